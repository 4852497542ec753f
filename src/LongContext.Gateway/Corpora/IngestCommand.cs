using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LongContext.Gateway.Corpora;

/// <summary>
/// <c>ingest</c>: sends files to a running gateway's corpora API and shows a progress bar while they
/// are chunked and embedded. .txt and .md files become one document each (id = path relative to the
/// folder given); .jsonl files hold one document per line. Large sets go in batches of about 8 MB.
/// </summary>
internal static class IngestCommand
{
    public const string Usage = "usage: ingest (--corpus vs_ID | --create NAME) [--gateway URL] [--key KEY] PATH...\n"
        + "  PATH: .txt, .md or .jsonl files, or folders of them. The key defaults to $LCG_API_KEY; the gateway to http://127.0.0.1:8080.";

    private const long BatchBytes = 8L * 1024 * 1024;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, HttpMessageHandler? handler = null)
    {
        string? corpus = null, create = null, gateway = "http://127.0.0.1:8080", key = Environment.GetEnvironmentVariable("LCG_API_KEY");
        var paths = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--corpus" when i + 1 < args.Count: corpus = args[++i]; break;
                case "--create" when i + 1 < args.Count: create = args[++i]; break;
                case "--gateway" when i + 1 < args.Count: gateway = args[++i]; break;
                case "--key" when i + 1 < args.Count: key = args[++i]; break;
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    await error.WriteLineAsync($"ingest: unknown or incomplete option {option}\n{Usage}");
                    return 2;
                default: paths.Add(args[i]); break;
            }
        }

        if ((corpus is null) == (create is null) || paths.Count == 0 || string.IsNullOrEmpty(key))
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }

        List<JsonObject> documents;
        try
        {
            documents = ReadDocuments(paths);
        }
        catch (Exception e) when (e is IOException or FormatException or JsonException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync("ingest: " + e.Message);
            return 1;
        }

        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.BaseAddress = new Uri(gateway!.TrimEnd('/') + "/");
        http.Timeout = Timeout.InfiniteTimeSpan;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        try
        {
            if (create is not null)
            {
                using var created = await http.PostAsync("v1/vector_stores", new StringContent(new JsonObject { ["name"] = create }.ToJsonString(), Encoding.UTF8, "application/json"));
                var body = await created.Content.ReadAsStringAsync();
                if (!created.IsSuccessStatusCode)
                {
                    await error.WriteLineAsync($"ingest: creating the corpus failed: HTTP {(int)created.StatusCode} {Message(body)}");
                    return 1;
                }

                corpus = (string)JsonNode.Parse(body)!["id"]!;
                await output.WriteLineAsync($"created corpus {corpus} ({create})");
            }

            var bar = new ProgressBar(error);
            var batches = Batches(documents).ToList();
            JsonNode? last = null;
            for (var b = 0; b < batches.Count; b++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/vector_stores/{corpus}/documents")
                {
                    Content = new StringContent(new JsonObject { ["documents"] = new JsonArray([.. batches[b]]) }.ToJsonString(), Encoding.UTF8, "application/json"),
                };
                request.Headers.Accept.ParseAdd("text/event-stream");
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                if (!response.IsSuccessStatusCode)
                {
                    bar.Done();
                    await error.WriteLineAsync($"ingest: batch {b + 1} of {batches.Count} failed: HTTP {(int)response.StatusCode} {Message(await response.Content.ReadAsStringAsync())}");
                    return 1;
                }

                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]")
                    {
                        continue;
                    }

                    var update = JsonNode.Parse(line[6..])!;
                    if (update["error"] is { } failure)
                    {
                        bar.Done();
                        await error.WriteLineAsync($"ingest: batch {b + 1} of {batches.Count} was refused: {(string?)failure["message"]}");
                        return 1;
                    }

                    bar.Show($"batch {b + 1}/{batches.Count} {(string?)update["status"]}", (int?)update["chunks_done"] ?? 0, (int?)update["chunks"] ?? 0);
                    last = update["vector_store"] ?? last;
                }
            }

            bar.Done();
            await output.WriteLineAsync($"{documents.Count} document(s) in {batches.Count} batch(es) added to {corpus}: now {(int?)last?["file_counts"]?["completed"]} documents, {(int?)last?["chunk_count"]} chunks, {(long?)last?["token_count"]:N0} tokens");
            return 0;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"ingest: cannot reach the gateway at {gateway}: {e.Message}");
            return 1;
        }
    }

    private static string Message(string body)
    {
        try
        {
            return (string?)JsonNode.Parse(body)?["error"]?["message"] ?? body;
        }
        catch (JsonException)
        {
            return body;
        }
    }

    private static List<JsonObject> ReadDocuments(IEnumerable<string> paths)
    {
        var documents = new List<JsonObject>();
        foreach (var path in paths)
        {
            var (root, files) = Directory.Exists(path)
                ? (path, Directory.EnumerateFiles(path, "*.*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList())
                : File.Exists(path) ? (Path.GetDirectoryName(Path.GetFullPath(path))!, [path]) : throw new IOException($"{path} is neither a file nor a folder.");
            foreach (var file in files)
            {
                var extension = Path.GetExtension(file).ToLowerInvariant();
                var id = Path.GetRelativePath(root, file).Replace('\\', '/');
                if (extension is ".txt" or ".md" or ".markdown")
                {
                    documents.Add(new JsonObject { ["id"] = id, ["name"] = Path.GetFileName(file), ["text"] = File.ReadAllText(file) });
                }
                else if (extension == ".jsonl")
                {
                    var number = 0;
                    foreach (var line in File.ReadLines(file))
                    {
                        number++;
                        if (string.IsNullOrWhiteSpace(line))
                        {
                            continue;
                        }

                        var node = JsonNode.Parse(line) as JsonObject ?? throw new FormatException($"{file}:{number} is not a JSON object.");
                        if (node["text"] is not JsonValue text || text.GetValueKind() != JsonValueKind.String)
                        {
                            throw new FormatException($"{file}:{number} has no string \"text\".");
                        }

                        node["id"] ??= $"{id}#{number}";
                        documents.Add(node);
                    }
                }
            }
        }

        return documents.Count > 0 ? documents : throw new IOException("no .txt, .md or .jsonl documents found.");
    }

    private static IEnumerable<List<JsonObject>> Batches(List<JsonObject> documents)
    {
        var batch = new List<JsonObject>();
        long bytes = 0;
        foreach (var document in documents)
        {
            var size = Encoding.UTF8.GetByteCount((string)document["text"]!);
            if (batch.Count > 0 && bytes + size > BatchBytes)
            {
                yield return batch;
                (batch, bytes) = ([], 0);
            }

            batch.Add(document);
            bytes += size;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>A one-line bar redrawn in place on the terminal: [#####-----] 50% 120/240 chunks.</summary>
    private sealed class ProgressBar(TextWriter writer)
    {
        private const int Width = 30;

        public void Show(string stage, int done, int total)
        {
            var fraction = total == 0 ? 1 : Math.Clamp(done / (double)total, 0, 1);
            var filled = (int)Math.Round(fraction * Width);
            writer.Write($"\r[{new string('#', filled)}{new string('-', Width - filled)}] {fraction * 100,3:0}% {done}/{total} chunks  {stage}    ");
            writer.Flush();
        }

        public void Done() => writer.WriteLine();
    }
}
