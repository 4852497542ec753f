// The reference model through the backend's generator, on this machine's CPU (or CUDA when present):
//   accuracy  — passkey and magic-number accuracy by context length × needle depth × attention method
//               (greedy answers, fixed seeds), plus a JSONL of {length, depth, hit} for `calibrate`;
//   speed     — prefill time and decode tokens/s per method and length.
// Run in Release:
//   dotnet run -c Release --project bench/LongContext.Backend.Bench -- accuracy [--model models/lcg-reference] [--lengths 512,1024] [--probes 4] [--jsonl FILE]
//       [--methods full,sparse+log,full+se16] [--se-window 256] [--infini-segment 512]
//       (+log: log-length scaling of attention logits; +seG: Self-Extend with group G)
//   dotnet run -c Release --project bench/LongContext.Backend.Bench -- speed [--lengths 1024,4096]
using System.Globalization;
using LongContext.Backend.Checkpoints;
using LongContext.Backend.Generation;
using LongContext.Backend.Model;
using LongContext.Backend.Training;
using static TorchSharp.torch;

var mode = args.FirstOrDefault() ?? "accuracy";
string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
var modelDirectory = Option("--model", Path.Combine(FindRoot(), "models", "lcg-reference"));
var lengths = Option("--lengths", mode == "speed" ? "1024,4096,16384" : "512,1024,2048,4096,16384").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
var probesPerCell = int.Parse(Option("--probes", "4"), CultureInfo.InvariantCulture);
var jsonl = Option("--jsonl", "");
double[] depths = [0, 0.25, 0.5, 0.75, 1];

var device = cuda.is_available() ? CUDA : CPU;
var (weights, tokenizer) = Checkpoint.Load(modelDirectory, device);
var generator = new TextGenerator(new Decoder(weights), tokenizer);
var methods = new (string Name, AttentionSettings Settings)[]
{
    ("full", new AttentionSettings()),
    ("ring4", new AttentionSettings { Method = AttentionMethod.Ring, RingRanks = 4 }),
    ("star", new AttentionSettings { Method = AttentionMethod.Star, StarBlockTokens = 512 }),
    ("infini", new AttentionSettings { Method = AttentionMethod.Infini, InfiniSegmentTokens = int.Parse(Option("--infini-segment", "512"), CultureInfo.InvariantCulture) }),
    ("sparse", new AttentionSettings { Method = AttentionMethod.Sparse, SparseWindow = 512, SparseGlobalTokens = 4 }),
};
if (Option("--methods", "") is { Length: > 0 } only)
{
    // e.g. --methods full,full+log,full+se16: "+log" adds log-length scaling of the attention logits,
    // "+seG" Self-Extend with group G (window --se-window, default 256).
    var window = int.Parse(Option("--se-window", "256"), CultureInfo.InvariantCulture);
    methods = [.. only.Split(',').Select(name =>
    {
        var parts = name.Split('+');
        var settings = methods.Single(m => m.Name == parts[0]).Settings;
        foreach (var modifier in parts.Skip(1))
        {
            settings = modifier == "log"
                ? settings with { LogLengthScaling = true }
                : settings with { SelfExtendGroup = int.Parse(modifier.AsSpan(2), CultureInfo.InvariantCulture), SelfExtendWindow = window };
        }

        return (name, settings);
    })];
}
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {device.type}; model {modelDirectory} ({weights.ParameterCount:N0} parameters, trained at {weights.Config.TrainingLength} bytes); {DateTime.UtcNow:yyyy-MM-dd}");

if (mode == "speed")
{
    Console.WriteLine("| length | " + string.Join(" | ", methods.Select(m => m.Name + " prefill / decode")) + " |");
    Console.WriteLine("|---|" + string.Concat(methods.Select(_ => "---|")));
    foreach (var length in lengths)
    {
        var cells = new List<string>();
        foreach (var (_, settings) in methods)
        {
            var probe = NeedleTasks.Passkey(new Random(length), length - 1, 0.5);
            var times = new List<(double Prefill, double TokensPerSecond)>();
            await Generate(probe.Prompt, settings, 4, stop: false); // warm-up
            for (var run = 0; run < 3; run++)
            {
                var stats = await Generate(probe.Prompt, settings, 32, stop: false);
                times.Add((stats.Prefill.TotalMilliseconds, stats.CompletionTokens / stats.Decode.TotalSeconds));
            }

            cells.Add($"{Median(times.Select(t => t.Prefill)):N0} ms / {Median(times.Select(t => t.TokensPerSecond)):0} tok/s");
        }

        Console.WriteLine($"| {length:N0} | {string.Join(" | ", cells)} |");
    }

    return;
}

using var records = jsonl.Length > 0 ? new StreamWriter(jsonl) : null;
var byDepth = new Dictionary<(string, double), (int Hits, int Count)>();
foreach (var kind in new[] { "passkey", "magic_number" })
{
    Console.WriteLine();
    Console.WriteLine($"{kind}: | length | " + string.Join(" | ", methods.Select(m => m.Name)) + " |");
    Console.WriteLine("|---|" + string.Concat(methods.Select(_ => "---|")));
    foreach (var length in lengths)
    {
        var cells = new List<string>();
        foreach (var (name, settings) in methods)
        {
            if (name == "ring4" && length > 4096)
            {
                // Ring is exact (its logits equal full attention's, tested); past 4K its unfused CPU path only costs time.
                cells.Add("= full");
                continue;
            }

            var (hits, count) = (0, 0);
            foreach (var depth in depths)
            {
                for (var p = 0; p < probesPerCell; p++)
                {
                    var random = new Random(HashCode.Combine(length, depth, p, kind));
                    var probe = kind == "passkey" ? NeedleTasks.Passkey(random, length - 1, depth) : NeedleTasks.MagicNumber(random, length - 1, depth);
                    var answer = new System.Text.StringBuilder();
                    await foreach (var update in generator.GenerateAsync(Prompt(probe.Prompt), Math.Max(0, length - 64), settings, new SamplingOptions { MaxTokens = probe.Answer.Length + 2 }))
                    {
                        answer.Append(update.Delta);
                    }

                    var hit = answer.ToString().Contains(probe.Answer.Trim(), StringComparison.Ordinal);
                    (hits, count) = (hits + (hit ? 1 : 0), count + 1);
                    if (kind == "passkey")
                    {
                        var key = (name, depth);
                        byDepth[key] = byDepth.TryGetValue(key, out var d) ? (d.Hits + (hit ? 1 : 0), d.Count + 1) : (hit ? 1 : 0, 1);
                        if (name == "full")
                        {
                            records?.WriteLine(string.Create(CultureInfo.InvariantCulture, $$"""{"length":{{length}},"depth":{{depth}},"hit":{{(hit ? "true" : "false")}}}"""));
                        }
                    }
                }
            }

            cells.Add($"{100.0 * hits / count:0}%");
        }

        Console.WriteLine($"| {length:N0} | {string.Join(" | ", cells)} |");
    }
}

Console.WriteLine();
Console.WriteLine("passkey by depth, all lengths: | method | " + string.Join(" | ", depths.Select(d => $"{d:P0}")) + " |");
foreach (var (name, _) in methods)
{
    Console.WriteLine($"| {name} | " + string.Join(" | ", depths.Select(d => byDepth.TryGetValue((name, d), out var c) ? $"{100.0 * c.Hits / c.Count:0}%" : "—")) + " |");
}

IReadOnlyList<int> Prompt(string text) => tokenizer.BeginId is { } begin ? [begin, .. tokenizer.Encode(text)] : tokenizer.Encode(text);

async Task<GenerationStats> Generate(string text, AttentionSettings settings, int maxTokens, bool stop)
{
    GenerationStats? stats = null;
    await foreach (var update in generator.GenerateAsync(Prompt(text), Math.Max(0, text.Length - 64), settings, new SamplingOptions { MaxTokens = maxTokens, Stop = stop ? ["."] : [] }))
    {
        stats = update.Stats ?? stats;
    }

    return stats!;
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToList();
    return sorted[sorted.Count / 2];
}

static string FindRoot()
{
    var directory = new DirectoryInfo(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "LongContext.Gateway.sln")))
    {
        directory = directory.Parent;
    }

    return directory?.FullName ?? Directory.GetCurrentDirectory();
}
