using System.Globalization;
using LongContext.Evaluation.Probes;
using LongContext.Evaluation.Reports;
using LongContext.Evaluation.Runs;
using LongContext.Routing.Tokens;

namespace LongContext.Evaluation;

/// <summary>
/// <c>eval</c>: sweeps probes over lengths × depths through a running gateway and writes
/// results.jsonl, summary.md and heatmap-ROUTE.svg to the output folder.
/// </summary>
public static class EvalCommand
{
    public const string Usage = """
        usage: eval --gateway URL --key KEY --out FOLDER
                    [--model auto] [--route auto|rag|long_context|hybrid] [--kinds passkey,niah,ruler_single,ruler_multikey,ruler_multivalue,ruler_multiquery]
                    [--lengths 1000,4000] [--depths 0,0.25,0.5,0.75,1] [--repeats 1] [--seed 1]
                    [--haystack DIR] [--tokenizer o200k_base|cl100k_base|bytes] [--context documents|message] [--max-tokens 32]
                    [--admin-key KEY --tenant ID]   (actual cost from the ledger instead of the estimate)
                    [--record true]   (with --admin-key and --tenant: store the scored probes as the tenant's measured recall)
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, HttpClient? http = null)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                error.WriteLine($"eval: unknown or incomplete option {args[i]}\n{Usage}");
                return 2;
            }

            values[args[i][2..]] = args[++i];
        }

        string? Value(string name) => values.GetValueOrDefault(name);
        if (Value("gateway") is not { } gateway || Value("key") is not { } key || Value("out") is not { } outDirectory)
        {
            error.WriteLine(Usage);
            return 2;
        }

        try
        {
            var kinds = (Value("kinds") ?? ProbeKinds.Passkey).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (kinds.FirstOrDefault(k => !ProbeKinds.All.Contains(k)) is { } unknown)
            {
                throw new FormatException($"--kinds: '{unknown}' is not one of {string.Join(", ", ProbeKinds.All)}.");
            }

            var lengths = Numbers(Value("lengths") ?? "1000,4000", "lengths", int.Parse);
            var depths = Numbers(Value("depths") ?? "0,0.25,0.5,0.75,1", "depths", s => double.Parse(s, CultureInfo.InvariantCulture));
            if (depths.Any(d => d is < 0 or > 1))
            {
                throw new FormatException("--depths must lie between 0 and 1.");
            }

            var repeats = int.Parse(Value("repeats") ?? "1", CultureInfo.InvariantCulture);
            var seed = int.Parse(Value("seed") ?? "1", CultureInfo.InvariantCulture);
            var context = Value("context") switch
            {
                null or "documents" => ContextMode.Documents,
                "message" => ContextMode.Message,
                var other => throw new FormatException($"--context '{other}' is not documents or message."),
            };
            var options = new EvalOptions
            {
                Gateway = new Uri(gateway.EndsWith('/') ? gateway : gateway + "/"),
                ApiKey = key,
                Model = Value("model") ?? "auto",
                Route = Value("route") ?? "auto",
                Context = context,
                MaxTokens = int.Parse(Value("max-tokens") ?? "32", CultureInfo.InvariantCulture),
                AdminKey = Value("admin-key"),
                Tenant = Value("tenant"),
            };
            var haystack = Value("haystack") is { } directory ? Haystack.FromDirectory(directory) : Haystack.Generated(seed);
            var counter = TokenCounters.Shared.Get(Value("tokenizer") ?? TokenCounters.O200kBase);
            var generator = new ProbeGenerator(haystack, counter);
            var probes = (from kind in kinds from length in lengths from depth in depths from r in Enumerable.Range(0, repeats) select generator.Generate(kind, length, depth, seed + r)).ToList();
            output.WriteLine($"{probes.Count} probes ({string.Join(", ", kinds)}; {lengths.Count} lengths × {depths.Count} depths × {repeats}) in {haystack.Source}, {counter.Name} tokens, route {options.Route}, model {options.Model}");

            using var client = http is null ? new HttpClient { Timeout = TimeSpan.FromMinutes(10) } : null;
            var runner = new EvalRunner(http ?? client!, options);
            var results = await runner.RunAsync(probes, (done, total) => error.Write($"\r[{new string('#', 30 * done / total),-30}] {done}/{total}"));
            error.WriteLine();

            Directory.CreateDirectory(outDirectory);
            await File.WriteAllLinesAsync(Path.Combine(outDirectory, "results.jsonl"), results.Select(EvalReport.JsonLine));
            var summary = EvalReport.Summary(results);
            await File.WriteAllTextAsync(Path.Combine(outDirectory, "summary.md"), summary);
            foreach (var route in results.GroupBy(r => r.Route ?? "refused"))
            {
                await File.WriteAllTextAsync(Path.Combine(outDirectory, $"heatmap-{route.Key}.svg"), EvalReport.Heatmap([.. route], $"recall, route {route.Key} ({options.Model})"));
            }

            if (Value("record") == "true")
            {
                if (options.AdminKey is null || options.Tenant is null)
                {
                    throw new ArgumentException("--record needs --admin-key and --tenant.");
                }

                await RecordAsync(http ?? client!, options, results, outDirectory);
                output.WriteLine($"recorded {results.Count} probes as measured recall of tenant {options.Tenant}");
            }

            output.Write(summary);
            foreach (var failure in results.Where(r => r.Error is not null).Select(r => r.Error).Distinct().Take(5))
            {
                error.WriteLine($"eval: a request failed: {failure}");
            }

            output.WriteLine($"written to {outDirectory}: results.jsonl, summary.md, heatmap-*.svg");
            return 0;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IOException or HttpRequestException)
        {
            error.WriteLine($"eval: {e.Message}");
            return 2;
        }
    }

    /// <summary>Posts the scored probes to the gateway (POST /api/evaluations, admin key): they become the dashboard's and the metrics' measured recall.</summary>
    private static async Task RecordAsync(HttpClient http, EvalOptions options, IReadOnlyList<EvalResult> results, string run)
    {
        var body = new System.Text.Json.Nodes.JsonObject
        {
            ["tenant"] = options.Tenant,
            ["run"] = Path.GetFileName(Path.GetFullPath(run).TrimEnd(Path.DirectorySeparatorChar)),
            ["results"] = new System.Text.Json.Nodes.JsonArray([.. results.Where(r => r.Route is not null).Select(r => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
            {
                ["kind"] = r.Probe.Kind,
                ["route"] = r.Route,
                ["model"] = r.Model,
                ["length"] = r.Probe.LengthTokens,
                ["depth"] = r.Probe.Depth,
                ["hit"] = r.Hit,
            })]),
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(options.Gateway, "api/evaluations")) { Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.AdminKey);
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"recording the run failed: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static List<T> Numbers<T>(string text, string name, Func<string, T> parse)
    {
        try
        {
            return [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse)];
        }
        catch (FormatException)
        {
            throw new FormatException($"--{name} '{text}' must be a comma-separated list of numbers.");
        }
    }
}
