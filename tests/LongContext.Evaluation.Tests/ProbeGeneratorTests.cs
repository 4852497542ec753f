using LongContext.Evaluation.Probes;
using LongContext.Evaluation.Reports;
using LongContext.Evaluation.Runs;
using LongContext.Routing.Tokens;

namespace LongContext.Evaluation.Tests;

public sealed class ProbeGeneratorTests
{
    private static readonly ITokenCounter O200k = TokenCounters.Shared.Get(TokenCounters.O200kBase);

    public static TheoryData<string> Kinds => [.. ProbeKinds.All];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SameSeed_SameProbe_OtherSeed_OtherNeedle(string kind)
    {
        var seed = Random.Shared.Next();
        var a = new ProbeGenerator(Haystack.Generated(7), O200k).Generate(kind, 2_000, 0.5, seed);
        var b = new ProbeGenerator(Haystack.Generated(7), O200k).Generate(kind, 2_000, 0.5, seed);
        var c = new ProbeGenerator(Haystack.Generated(7), O200k).Generate(kind, 2_000, 0.5, seed + 1);

        Assert.Equal((a.Context, a.Question), (b.Context, b.Question));
        Assert.Equal(a.Answers, b.Answers);
        Assert.NotEqual(a.Context, c.Context);
        Assert.All(a.Answers, answer => Assert.Contains(answer, a.Context, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(1.0)]
    public void Needle_LandsAtTheAskedTokenDepth_AndTheContextHasTheAskedLength(double depth)
    {
        const int length = 4_000;
        var probe = new ProbeGenerator(Haystack.Generated(3), O200k).Generate(ProbeKinds.Passkey, length, depth, seed: Random.Shared.Next());

        var total = O200k.Count(probe.Context);
        var start = probe.Context.IndexOf(" The pass key is", StringComparison.Ordinal);
        var before = O200k.Count(probe.Context[..start]);
        var hay = total - O200k.Count(probe.Context.Substring(start, probe.Context.IndexOf("pass key. ", start, StringComparison.Ordinal) + 10 - start));

        // Within 1 % of the asked length (the haystack is cut at a word), the needle within a word (1–2 tokens) of the asked depth.
        Assert.InRange(total, length * 0.99, length);
        Assert.InRange(before, depth * hay - 3, depth * hay + 3);
        Assert.Equal(before / (double)hay, probe.NeedleDepth, 2);
    }

    [Fact]
    public void Bytes_Tokenizer_PlacesTheNeedleToTheByte()
    {
        var bytes = TokenCounters.Shared.Get(TokenCounters.Bytes);
        var probe = new ProbeGenerator(Haystack.Generated(5), bytes).Generate(ProbeKinds.Passkey, 1_000, 0.25, seed: 11);

        Assert.InRange(probe.Context.Length, 990, 1_000);
        Assert.InRange(probe.Context.IndexOf("The pass key", StringComparison.Ordinal), 0.25 * probe.Context.Length - 12, 0.25 * probe.Context.Length + 12);
    }

    [Fact]
    public void Scoring_IsCaseInsensitiveSubstring_AndNeedsEveryAnswer()
    {
        var probe = new ProbeGenerator(Haystack.Generated(1), O200k).Generate(ProbeKinds.RulerMultiQuery, 1_500, 0.3, seed: 2);

        Assert.Equal(2, probe.Answers.Count);
        Assert.True(probe.IsAnsweredBy($"They are {probe.Answers[1]} and {probe.Answers[0]}."));
        Assert.False(probe.IsAnsweredBy($"It is {probe.Answers[0]}."));
        var niah = new ProbeGenerator(Haystack.Generated(1), O200k).Generate(ProbeKinds.Niah, 1_500, 0.3, seed: 2);
        Assert.True(niah.IsAnsweredBy(niah.Answers[0].ToUpperInvariant() + " is the place."));
    }

    [Fact]
    public void TooShortALength_AndUnknownKinds_AreClearErrors()
    {
        var generator = new ProbeGenerator(Haystack.Generated(1), O200k);

        Assert.Contains("needs at least", Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(ProbeKinds.RulerMultiValue, 20, 0.5, 1)).Message, StringComparison.Ordinal);
        Assert.Contains("Unknown probe kind", Assert.Throws<ArgumentException>(() => generator.Generate("haystack", 1_000, 0.5, 1)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Summary_AndHeatmap_ShowRecallByLengthAndDepth()
    {
        var generator = new ProbeGenerator(Haystack.Generated(1), O200k);
        EvalResult Result(int length, double depth, bool hit) => new(generator.Generate(ProbeKinds.Passkey, length, depth, 1), "rag", "rag:m", "m", hit, "", 0.001m, "estimated", 0.1, null, null);
        var results = new[] { Result(1_000, 0, true), Result(1_000, 1, false), Result(2_000, 0, true), Result(2_000, 1, true) };

        var summary = EvalReport.Summary(results);
        var heatmap = EvalReport.Heatmap(results, "t");

        Assert.Contains("route rag: recall 75%", summary.Replace(" %", "%", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("| 1,000 | 100% | 0% | 50% |", summary.Replace(" %", "%", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("data-length=\"1000\" data-depth=\"1\" data-recall=\"0\"", heatmap, StringComparison.Ordinal);
        Assert.Contains("\"length\":1000", EvalReport.JsonLine(results[0]), StringComparison.Ordinal);
    }
}
