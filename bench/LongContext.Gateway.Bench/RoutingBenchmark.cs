using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LongContext.Evaluation.Probes;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Tenancy;
using LongContext.Routing.Tokens;

namespace LongContext.Gateway.Bench;

/// <summary>
/// The routing benchmark: a mixed workload (corpora of several sizes; questions answerable from
/// one chunk and questions that need two) run through the real gateway — retrieval, positioning,
/// routing, accounting — as always-RAG, always-long-context, hybrid and auto. The models are the
/// shipped catalog's provider models (their prices, windows and context-rot curves) served by a
/// local reader: it answers with every fact present in what it was sent and reports usage as the
/// prompt's o200k tokens, so "found" measures whether the route delivered the facts to the model;
/// how well a real model reads them at that length is the curve's expected recall. No real model
/// is called here: found is measured, reading is from curves, cost is the ledger's.
/// </summary>
internal static class RoutingBenchmark
{
    private const string Key = "sk-routing-bench";
    private const string Admin = "sk-routing-bench-admin";
    private const string Marker = "[[INSUFFICIENT_CONTEXT]]";

    public static async Task<int> RunAsync(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var sizes = Option("--sizes", "2000,16000,128000,400000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var questions = int.Parse(Option("--questions", "4"), CultureInfo.InvariantCulture);
        var o200k = TokenCounters.Shared.Get(TokenCounters.O200kBase);
        var root = FindRoot();

        // The reader.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var reader = builder.Build();
        reader.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync())!.AsObject();
            var messages = body["messages"]!.AsArray().Select(m => m!["content"]?.ToString() ?? "").ToList();
            var everything = string.Join("\n", messages);
            var asked = Regex.Matches(messages[^1], @"access code for ([\w-]+)").Select(m => m.Groups[1].Value).ToList();
            var found = asked.Select(name => Regex.Match(everything, $@"The access code for {Regex.Escape(name)} is (\d+)\.")).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
            var answer = found.Count == asked.Count && asked.Count > 0 ? "The codes: " + string.Join(", ", found) + "."
                : everything.Contains(Marker, StringComparison.Ordinal) ? Marker : "I cannot find it.";
            var prompt = o200k.Count(everything);
            return Results.Json(new { id = "r", @object = "chat.completion", created = 0, model = (string)body["model"]!, choices = new[] { new { index = 0, message = new { role = "assistant", content = answer }, finish_reason = "stop" } }, usage = new { prompt_tokens = prompt, completion_tokens = 12, total_tokens = prompt + 12 } });
        });
        await reader.StartAsync();

        // The gateway: the shipped routing profiles of three provider models, on the reader.
        var directory = Directory.CreateTempSubdirectory("lcg-routing-bench-").FullName;
        Copy(Path.Combine(root, "config", "context-rot"), Path.Combine(directory, "config", "context-rot"));
        Copy(Path.Combine(root, "config", "prompts"), Path.Combine(directory, "config", "prompts"));
        var shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "config", "models.json")))!["Models"]!;
        var models = new JsonObject();
        foreach (var name in new[] { "gpt-5-mini", "gpt-5.2", "gemini-3-pro" })
        {
            var model = shipped[name]!.DeepClone().AsObject();
            model["Upstream"] = "reader";
            model.Remove("UpstreamHeaders");
            models[name] = model;
        }

        var routing = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "config", "routing.json")))!.AsObject();
        routing["Ledger"] = new JsonObject { ["Store"] = "Sqlite", ["SqlitePath"] = "data/ledger.db" };
        var settings = new JsonObject
        {
            ["Gateway"] = new JsonObject { ["AdminKeyHashes"] = new JsonArray(ApiKeyHash.ToHex(Admin)), ["Limits"] = new JsonObject { ["MaxRequestBodyBytes"] = 64 << 20 } },
            ["Upstreams"] = new JsonObject { ["reader"] = new JsonObject { ["Destinations"] = new JsonObject { ["main"] = new JsonObject { ["Address"] = reader.Urls.Single().TrimEnd('/') + "/v1/" } } } },
            ["Models"] = models,
            ["Tenants"] = new JsonObject { ["bench"] = new JsonObject { ["ApiKeyHashes"] = new JsonArray(ApiKeyHash.ToHex(Key)), ["AllowedModels"] = new JsonArray("*"), ["Policy"] = new JsonObject { ["RecallFloor"] = 0.8 } } },
            ["Routing"] = routing["Routing"]!.DeepClone(),
            ["Ledger"] = routing["Ledger"]!.DeepClone(),
            ["Corpora"] = new JsonObject { ["Directory"] = "data/corpora" },
            ["Backend"] = new JsonObject { ["Enabled"] = false },
        };
        var settingsPath = Path.Combine(directory, "appsettings.json");
        File.WriteAllText(settingsPath, settings.ToJsonString());
        await using var gateway = GatewayApp.Build(["--settings", settingsPath, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"]);
        await gateway.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(gateway.Urls.Single()), Timeout = TimeSpan.FromMinutes(30) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", Key);

        // The workload: per corpus, facts planted at spread depths; single-fact and two-fact questions.
        var random = new Random(20261202);
        var items = new List<(int Size, string Corpus, string Question, string[] Codes)>();
        foreach (var size in sizes)
        {
            var facts = Enumerable.Range(0, 2 * questions).Select(i => (Name: $"vault-{size}-{i}", Code: random.Next(100_000, 999_999).ToString(CultureInfo.InvariantCulture))).ToList();
            var text = Haystack.Generated(size).Take(size * 5);
            var cut = text[..Math.Min(text.Length, CharsFor(text, size, o200k))];
            var chars = new StringBuilder(cut);
            foreach (var (fact, i) in facts.Select((f, i) => (f, i)).Reverse())
            {
                var at = cut.LastIndexOf(". ", (int)((i + 0.5) / facts.Count * cut.Length), StringComparison.Ordinal) + 2;
                chars.Insert(Math.Max(0, at), $"The access code for {fact.Name} is {fact.Code}. ");
            }

            using var created = await http.PostAsync("/v1/vector_stores", Json(new JsonObject { ["name"] = $"corpus-{size}" }));
            var corpus = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
            using var added = await http.PostAsync($"/v1/vector_stores/{corpus}/documents", Json(new JsonObject { ["documents"] = new JsonArray(new JsonObject { ["id"] = "doc", ["text"] = chars.ToString() }) }));
            added.EnsureSuccessStatusCode();
            for (var q = 0; q < questions; q++)
            {
                items.Add((size, corpus, $"What is the access code for {facts[q].Name}?", [facts[q].Code]));
                items.Add((size, corpus, $"What are the access code for {facts[questions + q].Name} and the access code for {facts[(questions + q + 1) % facts.Count].Name}?", [facts[questions + q].Code, facts[(questions + q + 1) % facts.Count].Code]));
            }

            Console.Error.WriteLine($"corpus of {size:N0} tokens indexed");
        }

        using var admin = new HttpClient { BaseAddress = http.BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Admin);
        var rows = new List<(string Mode, int Size, bool Multi, bool Found, double Expected, decimal Cost, string? Route, bool Escalated)>();
        foreach (var mode in new[] { "rag", "long_context", "hybrid", "auto" })
        {
            foreach (var item in items)
            {
                var body = new JsonObject
                {
                    ["model"] = "auto",
                    ["max_tokens"] = 64,
                    ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = item.Question }),
                    ["lcg"] = new JsonObject { ["corpus"] = item.Corpus, ["route"] = mode },
                };
                using var response = await http.PostAsync("/v1/chat/completions", Json(body));
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    rows.Add((mode, item.Size, item.Codes.Length > 1, false, 0, 0, null, false));
                    continue;
                }

                var answer = JsonNode.Parse(text)!["choices"]![0]!["message"]!["content"]!.ToString();
                var id = response.Headers.GetValues("X-LCG-Decision-Id").Single();
                var expected = double.Parse(response.Headers.GetValues("X-LCG-Expected-Recall").Single(), CultureInfo.InvariantCulture);
                var decision = JsonNode.Parse(await admin.GetStringAsync($"/api/dashboard/decisions/{id}?tenant=bench"))!;
                rows.Add((mode, item.Size, item.Codes.Length > 1, item.Codes.All(c => answer.Contains(c, StringComparison.Ordinal)), expected,
                    decision["actual_cost_usd"]?.GetValue<decimal>() ?? 0, response.Headers.GetValues("X-LCG-Route").Single(), response.Headers.TryGetValues("X-LCG-Escalated", out var e) && e.Single() == "true"));
            }

            Console.Error.WriteLine($"{mode}: done");
        }

        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd}; corpora {string.Join(", ", sizes.Select(s => s.ToString("N0", CultureInfo.InvariantCulture)))} o200k tokens; {items.Count} questions per mode (half need two facts)");
        Console.WriteLine("| mode | cost (ledger) | cost vs always-LC | facts delivered (measured) | expected recall (curves) | delivered × expected | routes taken |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        var lcCost = rows.Where(r => r.Mode == "long_context").Sum(r => r.Cost);
        foreach (var mode in rows.GroupBy(r => r.Mode))
        {
            var cost = mode.Sum(r => r.Cost);
            var taken = string.Join(", ", mode.GroupBy(r => r.Route ?? "refused").Select(g => $"{g.Key} {g.Count()}")) + (mode.Any(r => r.Escalated) ? $" (escalated {mode.Count(r => r.Escalated)})" : "");
            Console.WriteLine($"| {mode.Key} | ${cost:0.####} | {(lcCost == 0 ? 0 : cost / lcCost):P0} | {mode.Count(r => r.Found) / (double)mode.Count():P0} | {mode.Average(r => r.Expected):P1} | {mode.Average(r => r.Found ? r.Expected : 0):P1} | {taken} |");
        }

        Console.WriteLine();
        Console.WriteLine("| mode | size | single-fact delivered | two-fact delivered | cost |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var group in rows.GroupBy(r => (r.Mode, r.Size)))
        {
            Console.WriteLine($"| {group.Key.Mode} | {group.Key.Size:N0} | {group.Where(r => !r.Multi).Count(r => r.Found)}/{group.Count(r => !r.Multi)} | {group.Where(r => r.Multi).Count(r => r.Found)}/{group.Count(r => r.Multi)} | ${group.Sum(r => r.Cost):0.#####} |");
        }

        await gateway.StopAsync();
        await reader.StopAsync();
        Directory.Delete(directory, recursive: true);
        return 0;
    }

    private static int CharsFor(string text, int tokens, ITokenCounter counter)
    {
        var (low, high) = (0, text.Length);
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if (counter.Count(text[..middle]) <= tokens)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "LongContext.Gateway.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Run the benchmark from inside the repository.");
    }
}
