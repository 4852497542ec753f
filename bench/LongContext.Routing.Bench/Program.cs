// Decision latency of the routing core: a corpus sent by reference (document counts cached)
// and a 1M-token inline context (tokenizing included). Prints medians; run in Release:
//   dotnet run -c Release --project bench/LongContext.Routing.Bench
using System.Diagnostics;
using System.Text;
using LongContext.Routing.Catalog;
using LongContext.Routing.ContextRot;
using LongContext.Routing.Decision;
using LongContext.Routing.Memory;
using LongContext.Routing.Policies;
using LongContext.Routing.Pricing;
using LongContext.Routing.Tokens;

var curve = new ContextRotCurve
{
    Name = "typical",
    MiddleDip = 0.15,
    Points = [new(32_000, 0.92), new(128_000, 0.82), new(512_000, 0.64), new(1_000_000, 0.43), new(2_000_000, 0.30)],
};
ModelProfile[] models =
[
    new() { Id = "mini", ContextWindow = 128_000, Prices = new() { InputPerMillion = 0.15m, OutputPerMillion = 0.6m }, ContextRot = curve, ServesLongContext = false },
    new() { Id = "gpt-5.2", ContextWindow = 400_000, Prices = new() { InputPerMillion = 1.5m, OutputPerMillion = 12m }, ContextRot = curve },
    new() { Id = "gemini-3-pro", ContextWindow = 2_000_000, Prices = new() { InputPerMillion = 2m, OutputPerMillion = 12m }, ContextRot = curve },
    new()
    {
        Id = "self-hosted", ContextWindow = 1_048_576, ContextRot = curve, ServesRag = false,
        Prices = new SelfHostedCost { GpuHourUsd = 2.5m, Gpus = 8, PrefillTokensPerSecond = 40_000, DecodeTokensPerSecond = 400 }.ToPrices(),
        SelfHosted = new()
        {
            Kv = new KvCacheShape { Layers = 80, KvHeads = 8, HeadDim = 128 }, Gpus = 8, GpuMemoryBytes = 141_000_000_000, ReservedBytesPerGpu = 40_000_000_000,
            Attention = [new() { Method = "full" }, new() { Method = "ring", ShardsKvOverGpus = true }, new() { Method = "star", RecallFactor = 0.98, ShardsKvOverGpus = true }, new() { Method = "infini", RecallFactor = 0.95, KvTokenLimit = 65_536 }],
        },
    },
];
var decider = new RouteDecider(models, new RagSettings());
var policy = new TenantPolicy { RecallFloor = 0.85, MonthlyBudgetUsd = 500 };
var budget = new BudgetState(250m, null);
var tokenizer = TokenCounters.Shared.Get(TokenCounters.O200kBase);
const string question = "Which clause of the supplier agreement sets the penalty for late delivery, and how large is it?";

// Corpus by reference: 2,000 documents whose counts were cached at ingestion.
var cache = new TokenCountCache();
var documents = Enumerable.Range(0, 2_000).Select(i => ($"corpus-1/doc-{i}@v1", Filler(i, 400))).ToArray();
foreach (var (key, text) in documents)
{
    cache.GetOrCount(tokenizer, key, text);
}

var byReference = Measure(iterations: 2_000, () =>
{
    long context = 0;
    foreach (var (key, text) in documents)
    {
        context += cache.GetOrCount(tokenizer, key, text);
    }

    return decider.Decide(new RoutingRequest { QuestionTokens = tokenizer.Count(question), ContextTokens = context, ExpectedOutputTokens = 800 }, policy, budget);
});

// Inline context of about one million tokens, counted on every request.
var inline = Filler(seed: 42, words: 795_000); // ≈ 1,000,000 o200k tokens
var inlineTokens = tokenizer.Count(inline);
var inlineContext = Measure(iterations: 9, () =>
    decider.Decide(new RoutingRequest { QuestionTokens = tokenizer.Count(question), ContextTokens = tokenizer.Count(inline), ExpectedOutputTokens = 800 }, policy, budget));

// Baseline side by side: the same corpus recounted on every request, as without the cache.
var uncached = Measure(iterations: 20, () =>
    decider.Decide(new RoutingRequest { QuestionTokens = tokenizer.Count(question), ContextTokens = documents.Sum(d => (long)tokenizer.Count(d.Item2)), ExpectedOutputTokens = 800 }, policy, budget));

Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {Environment.OSVersion}, .NET {Environment.Version}");
Console.WriteLine($"date: {DateTime.UtcNow:yyyy-MM-dd}");
Console.WriteLine($"| case | chosen prompt | candidates | median | p90 | chosen |");
Console.WriteLine($"|---|---|---|---|---|---|");
Console.WriteLine(byReference.Row("corpus by reference (2,000 cached document counts)"));
Console.WriteLine(inlineContext.Row($"inline context, tokenized per request ({inline.Length / 1e6:0.#}M chars)"));
Console.WriteLine(uncached.Row("baseline: same corpus, every document recounted per request"));
Console.WriteLine($"inline context is {inlineTokens:N0} o200k tokens");

static Result Measure(int iterations, Func<RouteDecision> decide)
{
    for (var i = 0; i < Math.Min(iterations, 20); i++)
    {
        decide();
    }

    var times = new double[iterations];
    RouteDecision last = null!;
    for (var i = 0; i < iterations; i++)
    {
        var start = Stopwatch.GetTimestamp();
        last = decide();
        times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    Array.Sort(times);
    return new Result(times[iterations / 2], times[(int)(iterations * 0.9)], last);
}

// Deterministic English-like filler: varied words so the tokenizer does real work.
static string Filler(int seed, int words)
{
    string[] vocabulary = ["the", "supplier", "shall", "deliver", "goods", "within", "thirty", "days", "of", "order", "penalty", "clause", "agreement", "party", "notice", "written", "terms", "payment", "invoice", "schedule", "warranty", "liability", "force", "majeure", "termination", "2026", "section", "4.2", "annex", "B,"];
    var random = new Random(seed);
    var builder = new StringBuilder(words * 7);
    for (var i = 0; i < words; i++)
    {
        builder.Append(vocabulary[random.Next(vocabulary.Length)]).Append(i % 17 == 16 ? ". " : " ");
    }

    return builder.ToString();
}

internal sealed record Result(double MedianMs, double P90Ms, RouteDecision Decision)
{
    public string Row(string name) =>
        $"| {name} | {Decision.Chosen?.PromptTokens:N0} prompt | {Decision.Candidates.Count} | {MedianMs:0.###} ms | {P90Ms:0.###} ms | {Decision.Chosen?.Id} |";
}
