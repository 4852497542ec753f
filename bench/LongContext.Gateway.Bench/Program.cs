// Time to first token of the hybrid (self-route) route against its alternatives, through the real
// gateway on 127.0.0.1, with an upstream that streams like a model: first token after
// --first-token-ms, then one piece every --token-ms.
//   rag        — the RAG route: the gateway forwards the stream as it comes (the baseline);
//   hybrid     — the chunks answer: the RAG step's reply is held until it departs from the marker;
//   escalated  — the chunks cannot answer: the whole RAG step (the marker) runs first, then the
//                long-context step streams.
// Run in Release:
//   dotnet run -c Release --project bench/LongContext.Gateway.Bench -- [--requests 20] [--first-token-ms 50] [--token-ms 10]
// The routing benchmark (always-RAG / always-LC / hybrid / auto over a mixed workload; see RoutingBenchmark.cs):
//   dotnet run -c Release --project bench/LongContext.Gateway.Bench -- routing [--sizes 2000,16000,128000,400000,1000000] [--questions 4] [--two-hop 2] [--recall-floor 0.9]
//     [--gateway URL --key KEY --admin-key KEY --tenant ID]   (a running gateway and its configured upstreams instead of the local reader)
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Tenancy;

if (args is ["routing", ..])
{
    return await LongContext.Gateway.Bench.RoutingBenchmark.RunAsync(args);
}

string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
var requests = int.Parse(Option("--requests", "20"), CultureInfo.InvariantCulture);
var firstTokenMs = int.Parse(Option("--first-token-ms", "50"), CultureInfo.InvariantCulture);
var tokenMs = int.Parse(Option("--token-ms", "10"), CultureInfo.InvariantCulture);
const string Marker = "[[INSUFFICIENT_CONTEXT]]";
const string Key = "sk-bench-key";

// The upstream: answers "What is the value of KEY?" from the request's text, or with the marker when the
// self-route instruction is there and the value is not; streamed in 4-character pieces.
var upstreamBuilder = WebApplication.CreateSlimBuilder();
upstreamBuilder.WebHost.UseUrls("http://127.0.0.1:0");
upstreamBuilder.Logging.ClearProviders();
await using var upstream = upstreamBuilder.Build();
upstream.MapPost("/v1/chat/completions", async (HttpContext context) =>
{
    var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync())!.AsObject();
    var everything = string.Join("\n", body["messages"]!.AsArray().Select(m => m!["content"]?.ToString()));
    var question = body["messages"]!.AsArray().Last(m => (string?)m!["role"] == "user")!["content"]!.ToString();
    var key = Regex.Match(question, @"What is the value of ([\w-]+)\?").Groups[1].Value;
    var fact = Regex.Match(everything, $@"value of {Regex.Escape(key)} is (\d+)");
    var answer = fact.Success ? $"The value of {key} is {fact.Groups[1].Value}, as the inventory card says." : everything.Contains(Marker, StringComparison.Ordinal) ? Marker : "Unknown.";
    context.Response.ContentType = "text/event-stream";
    await Task.Delay(firstTokenMs);
    var pieces = answer.Chunk(4).Select(c => new string(c)).ToList();
    for (var i = 0; i < pieces.Count; i++)
    {
        if (i > 0)
        {
            await Task.Delay(tokenMs);
        }

        var delta = new JsonObject { ["content"] = pieces[i] };
        await context.Response.WriteAsync($"data: {new JsonObject { ["id"] = "c", ["object"] = "chat.completion.chunk", ["created"] = 0, ["model"] = (string)body["model"]!, ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = null }) }.ToJsonString()}\n\n");
        await context.Response.Body.FlushAsync();
    }

    var usage = new JsonObject { ["prompt_tokens"] = 100, ["completion_tokens"] = pieces.Count, ["total_tokens"] = 100 + pieces.Count };
    await context.Response.WriteAsync($"data: {new JsonObject { ["id"] = "c", ["object"] = "chat.completion.chunk", ["created"] = 0, ["model"] = (string)body["model"]!, ["choices"] = new JsonArray(), ["usage"] = usage }.ToJsonString()}\n\ndata: [DONE]\n\n");
});
await upstream.StartAsync();
var upstreamAddress = upstream.Urls.Single().TrimEnd('/') + "/v1/";

// The gateway, on its own settings: a cheap RAG model and a long-context model on that upstream.
var directory = Directory.CreateTempSubdirectory("lcg-gateway-bench-").FullName;
Directory.CreateDirectory(Path.Combine(directory, "config", "context-rot"));
Directory.CreateDirectory(Path.Combine(directory, "config", "prompts"));
File.Copy(Path.Combine(AppContext.BaseDirectory, "config", "prompts", "self-route.txt"), Path.Combine(directory, "config", "prompts", "self-route.txt"));
File.WriteAllText(Path.Combine(directory, "config", "context-rot", "flat.json"), """{"Source":"bench: flat 90%","Points":[{"Tokens":1000,"Recall":0.9},{"Tokens":10000000,"Recall":0.9}]}""");
JsonObject Model(string upstreamModel, decimal input, long window, bool rag) => new()
{
    ["Upstream"] = "stub",
    ["UpstreamModel"] = upstreamModel,
    ["Routing"] = new JsonObject
    {
        ["ContextWindow"] = window, ["Tokenizer"] = "o200k_base", ["ContextRot"] = "flat",
        ["ServesRag"] = rag, ["ServesLongContext"] = !rag,
        ["Prices"] = new JsonObject { ["InputPerMillion"] = input, ["OutputPerMillion"] = input * 4 },
    },
};
var settings = new JsonObject
{
    ["Upstreams"] = new JsonObject { ["stub"] = new JsonObject { ["Destinations"] = new JsonObject { ["main"] = new JsonObject { ["Address"] = upstreamAddress } } } },
    ["Models"] = new JsonObject { ["rag-mini"] = Model("rag-mini", 0.1m, 128_000, rag: true), ["lc-big"] = Model("lc-big", 2m, 1_000_000, rag: false) },
    ["Tenants"] = new JsonObject { ["bench"] = new JsonObject { ["ApiKeyHashes"] = new JsonArray(ApiKeyHash.ToHex(Key)), ["AllowedModels"] = new JsonArray("*") } },
    ["Routing"] = new JsonObject { ["ContextRotDirectory"] = "config/context-rot", ["Rag"] = new JsonObject { ["TopK"] = 2, ["ChunkTokens"] = 200 } },
    ["Ledger"] = new JsonObject { ["Store"] = "Sqlite", ["SqlitePath"] = "data/ledger.db" },
    ["Corpora"] = new JsonObject { ["Directory"] = "data/corpora" },
    ["Backend"] = new JsonObject { ["Enabled"] = false },
};
var settingsPath = Path.Combine(directory, "appsettings.json");
File.WriteAllText(settingsPath, settings.ToJsonString());
await using var gateway = GatewayApp.Build(["--settings", settingsPath, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"]);
await gateway.StartAsync();
using var http = new HttpClient { BaseAddress = new Uri(gateway.Urls.Single()) };
http.DefaultRequestHeaders.Authorization = new("Bearer", Key);

// A corpus where "omega-3x" is found by retrieval and "zeta-17" is buried under distractors.
using var created = await http.PostAsync("/v1/vector_stores", new StringContent("""{"name":"bench"}""", Encoding.UTF8, "application/json"));
var corpus = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
var filler = string.Join(" ", Enumerable.Range(0, 60).Select(i => $"The harbour log for day {i} records calm water and two ferries."));
var documents = new JsonArray(
    new JsonObject { ["id"] = "card", ["text"] = "Inventory card: the value of omega-3x is 777." },
    new JsonObject { ["id"] = "archive", ["text"] = $"{filler} Archive note: the value of zeta-17 is 4242. {filler}" });
for (var i = 0; i < 6; i++)
{
    documents.Add(new JsonObject { ["id"] = $"d{i}", ["text"] = $"Open question {i}: What is the value of zeta-17? Reader {i} asked what the value of zeta-17 was." });
}

using var added = await http.PostAsync($"/v1/vector_stores/{corpus}/documents", new StringContent(new JsonObject { ["documents"] = documents }.ToJsonString(), Encoding.UTF8, "application/json"));
added.EnsureSuccessStatusCode();

async Task<(double FirstToken, double Total, string Text, string? Escalated)> StreamAsync(string route, string key)
{
    var body = new JsonObject
    {
        ["model"] = "auto",
        ["stream"] = true,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"What is the value of {key}?" }),
        ["lcg"] = new JsonObject { ["corpus"] = corpus, ["route"] = route },
    };
    var clock = Stopwatch.StartNew();
    using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") }, HttpCompletionOption.ResponseHeadersRead);
    if (response.StatusCode != HttpStatusCode.OK)
    {
        throw new InvalidOperationException($"{route}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
    double? first = null;
    var text = new StringBuilder();
    while (await reader.ReadLineAsync() is { } line)
    {
        if (!line.StartsWith("data: {", StringComparison.Ordinal))
        {
            continue;
        }

        var content = JsonNode.Parse(line[6..])!["choices"]!.AsArray().Select(c => (string?)c!["delta"]?["content"]).FirstOrDefault(c => !string.IsNullOrEmpty(c));
        if (content is not null)
        {
            first ??= clock.Elapsed.TotalMilliseconds;
            text.Append(content);
        }
    }

    return (first ?? double.NaN, clock.Elapsed.TotalMilliseconds, text.ToString(), response.Headers.TryGetValues("X-LCG-Escalated", out var e) ? e.Single() : null);
}

var cases = new (string Name, string Route, string Key)[] { ("rag", "rag", "omega-3x"), ("hybrid", "hybrid", "omega-3x"), ("escalated", "hybrid", "zeta-17") };
foreach (var (_, route, key) in cases)
{
    await StreamAsync(route, key); // warm-up
}

var results = cases.ToDictionary(c => c.Name, _ => new List<(double FirstToken, double Total)>());
for (var i = 0; i < requests; i++)
{
    // Interleaved, order rotated each round: every case sees the same machine.
    foreach (var (name, route, key) in cases.Skip(i % cases.Length).Concat(cases.Take(i % cases.Length)))
    {
        var r = await StreamAsync(route, key);
        if (r.Text.Contains("[[", StringComparison.Ordinal) || (name == "escalated") != (r.Escalated == "true"))
        {
            throw new InvalidOperationException($"{name}: unexpected answer '{r.Text}' (escalated: {r.Escalated})");
        }

        results[name].Add((r.FirstToken, r.Total));
    }
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

Console.WriteLine($"machine: {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd}; upstream first token {firstTokenMs} ms, then a 4-character piece every {tokenMs} ms; {requests} requests per case, interleaved");
Console.WriteLine("| case | time to first token p50 | added over rag | whole answer p50 |");
Console.WriteLine("|---|---|---|---|");
var baseline = Median(results["rag"].Select(r => r.FirstToken));
foreach (var (name, _, _) in cases)
{
    var ttft = Median(results[name].Select(r => r.FirstToken));
    Console.WriteLine($"| {name} | {ttft:0.0} ms | {ttft - baseline:+0.0;-0.0;0.0} ms | {Median(results[name].Select(r => r.Total)):0.0} ms |");
}

await gateway.StopAsync();
await upstream.StopAsync();
Directory.Delete(directory, recursive: true);
return 0;
