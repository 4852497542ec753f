using System.Text.Json.Nodes;
using LongContext.Gateway.Routing;

namespace LongContext.Gateway.Tests;

/// <summary>The calibrate command on result files shaped like LLMTest_NeedleInAHaystack's and on JSONL.</summary>
public sealed class CalibrateCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-calibrate-").FullName;

    [Fact]
    public void NiahResultFiles_FitACurveFileTheGatewayLoads_CloseToTheTruth()
    {
        // Truth: recall 0.95 at 4K falling to 0.55 at 128K (log-linear), 30% lower mid-depth; fresh random hits.
        var random = new Random();
        var lengths = new long[] { 4_000, 16_000, 64_000, 128_000 };
        var truth = new Dictionary<long, double> { [4_000] = 0.95, [16_000] = 0.85, [64_000] = 0.65, [128_000] = 0.55 };
        const double dip = 0.3;
        var results = Path.Combine(_directory, "results");
        Directory.CreateDirectory(results);
        var file = 0;
        foreach (var length in lengths)
        {
            foreach (var depthPercent in new[] { 0, 10, 25, 50, 75, 90, 100 })
            {
                var centred = 2 * depthPercent / 100.0 - 1;
                var p = truth[length] * (1 - dip * (1 - centred * centred)) / (1 - 2 * dip / 3);
                var runs = new JsonArray();
                for (var trial = 0; trial < 60; trial++)
                {
                    var hit = random.NextDouble() < p;
                    runs.Add(new JsonObject { ["model"] = "probe-model", ["context_length"] = length, ["depth_percent"] = depthPercent, ["score"] = hit ? random.Next(7, 11) : random.Next(1, 7) });
                }

                // Alternate the two shapes the NIAH project writes: a list, and one object per file.
                if (file++ % 2 == 0)
                {
                    File.WriteAllText(Path.Combine(results, $"run_{file}.json"), runs.ToJsonString());
                }
                else
                {
                    for (var i = 0; i < runs.Count; i++)
                    {
                        File.WriteAllText(Path.Combine(results, $"run_{file}_{i}.json"), runs[i]!.ToJsonString());
                    }
                }
            }
        }

        var outPath = Path.Combine(_directory, "context-rot", "probe-model.json");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = CalibrateCommand.Run(["--name", "probe-model", "--out", outPath, "--source", "synthetic run", results], output, error);

        Assert.True(code == 0, error.ToString());
        var curve = ContextRotFiles.Load(outPath);
        Assert.Equal("probe-model", curve.Name);
        Assert.Equal(lengths, curve.Points.Select(p => p.Tokens));
        foreach (var point in curve.Points)
        {
            Assert.InRange(point.Recall, truth[point.Tokens] - 0.08, truth[point.Tokens] + 0.08);
        }

        Assert.InRange(curve.MiddleDip, dip - 0.12, dip + 0.12);
        Assert.Contains("held-out error on", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("HeldOutMeanAbsoluteError", File.ReadAllText(outPath), StringComparison.Ordinal);
    }

    [Fact]
    public void JsonLines_AreReadToo()
    {
        var lines = Path.Combine(_directory, "hits.jsonl");
        File.WriteAllLines(lines, Enumerable.Range(0, 200).Select(i => $$"""{"length": {{(i % 2 == 0 ? 8000 : 200000)}}, "depth": {{i % 5 / 4.0}}, "hit": {{(i % 2 == 0 || i % 4 == 1 ? "true" : "false")}}}"""));
        var outPath = Path.Combine(_directory, "lines.json");

        var code = CalibrateCommand.Run(["--name", "lines", "--out", outPath, lines], TextWriter.Null, TextWriter.Null);

        Assert.Equal(0, code);
        var curve = ContextRotFiles.Load(outPath);
        Assert.True(curve.RecallAtLength(8000) > curve.RecallAtLength(200000));
    }

    [Fact]
    public void EvalResults_AreFilteredByRouteAndModel_AndFailedRequestsMeasureNothing()
    {
        // Shaped as the eval command writes them: all long-context hits at 2K and all misses at 64K,
        // mixed with RAG probes, another model's probes and failed requests that must not count.
        var random = new Random();
        var lines = new List<string>();
        foreach (var length in new[] { 2_000, 64_000 })
        {
            for (var i = 0; i < 20; i++)
            {
                var depth = Math.Round(random.NextDouble(), 2).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var hit = length == 2_000 ? "true" : "false";
                var opposite = length == 2_000 ? "false" : "true";
                lines.Add($$"""{"kind":"niah","length":{{length}},"depth":{{depth}},"route":"long_context","model":"m1","hit":{{hit}},"error":null}""");
                lines.Add($$"""{"kind":"niah","length":{{length}},"depth":{{depth}},"route":"rag","model":"m1","hit":{{opposite}},"error":null}""");
                lines.Add($$"""{"kind":"niah","length":{{length}},"depth":{{depth}},"route":"long_context","model":"m2","hit":{{opposite}},"error":null}""");
                lines.Add($$"""{"kind":"niah","length":{{length}},"depth":{{depth}},"route":"long_context","model":"m1","hit":false,"error":"502 upstream_unavailable"}""");
            }
        }

        var results = Path.Combine(_directory, "results.jsonl");
        File.WriteAllLines(results, lines);
        var outPath = Path.Combine(_directory, "m1.json");
        using var output = new StringWriter();

        var code = CalibrateCommand.Run(["--name", "m1", "--out", outPath, "--route", "long_context", "--model", "m1", results], output, TextWriter.Null);

        Assert.Equal(0, code);
        Assert.StartsWith("40 results from 1 file(s)", output.ToString(), StringComparison.Ordinal);
        var curve = ContextRotFiles.Load(outPath);
        Assert.Equal([2_000L, 64_000L], curve.Points.Select(p => p.Tokens));
        Assert.True(curve.Points[0].Recall > 0.9 && curve.Points[1].Recall < 0.1, string.Join(", ", curve.Points));

        Assert.Equal(1, CalibrateCommand.Run(["--name", "m1", "--out", outPath, "--route", "hybrid", results], TextWriter.Null, TextWriter.Null));
    }

    [Theory]
    [InlineData("""{"length": 1000, "depth": 0.5}""", "bad.jsonl:2: 'hit' must be true or false")]
    [InlineData("""{"length": 1000, "depth": 50, "hit": true}""", "bad.jsonl:2: length must be positive and depth in 0-1")]
    [InlineData("""not json""", "bad.jsonl:2 is not a JSON object")]
    public void BadLine_FailsNamingTheFileAndLine_AndWritesNothing(string line, string expected)
    {
        var path = Path.Combine(_directory, "bad.jsonl");
        File.WriteAllLines(path, ["""{"length": 1000, "depth": 0.5, "hit": true}""", line]);
        var outPath = Path.Combine(_directory, "never.json");
        using var error = new StringWriter();

        var code = CalibrateCommand.Run(["--name", "never", "--out", outPath, path], TextWriter.Null, error);

        Assert.Equal(1, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(outPath));
    }

    [Fact]
    public void MissingArguments_PrintUsage()
    {
        using var error = new StringWriter();

        Assert.Equal(2, CalibrateCommand.Run(["--name", "x"], TextWriter.Null, error));
        Assert.Contains("usage: calibrate", error.ToString(), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
