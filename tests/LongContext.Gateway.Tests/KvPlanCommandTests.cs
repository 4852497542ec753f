using LongContext.Gateway.Routing;

namespace LongContext.Gateway.Tests;

public sealed class KvPlanCommandTests
{
    [Fact]
    public void Llama70B_AtOneMillionTokens_Is328GB_AndFitsOneEightGpuNodeWithTensorParallelism()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = KvPlanCommand.Run(["--layers", "80", "--kv-heads", "8", "--head-dim", "128", "--tokens", "1000000", "--weights-gb", "140", "--gpu-gb", "80", "--tp", "8"], output, error);

        Assert.Equal(0, code);
        var text = output.ToString();
        Assert.Contains("= 327.7 GB", text, StringComparison.Ordinal);
        // 140/8 = 17.5 GB of weights and 41 GB of cache per GPU: under 72 GB usable of 80.
        Assert.Contains("full attention (one tensor-parallel group): 8 GPU(s), 41 GB of cache each", text, StringComparison.Ordinal);
        Assert.Contains("ring / star (cache sharded over 1 context-parallel group(s) of 8): 8 GPUs", text, StringComparison.Ordinal);
    }

    [Fact]
    public void FourMillionTokens_NeedContextParallelismAcrossNodes()
    {
        using var output = new StringWriter();

        var code = KvPlanCommand.Run(["--layers", "80", "--kv-heads", "8", "--head-dim", "128", "--tokens", "4000000", "--weights-gb", "140", "--gpu-gb", "80", "--tp", "8"], output, TextWriter.Null);

        Assert.Equal(0, code);
        var text = output.ToString();
        Assert.Contains("full attention (one tensor-parallel group): does not fit 8 GPU(s)", text, StringComparison.Ordinal);
        // 1,311 GB over groups of 8 GPUs with 54.5 GB of room each: 3.01 groups, so 4.
        Assert.Contains("ring / star (cache sharded over 4 context-parallel group(s) of 8): 32 GPUs", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--layers", "x")]
    [InlineData("--tokens", "-5")]
    [InlineData("--unknown", "1")]
    public void BadOptions_AreExit2_NamingTheOption(string option, string value)
    {
        using var error = new StringWriter();
        string[] args = ["--layers", "80", "--kv-heads", "8", "--head-dim", "128", "--tokens", "1000", .. new[] { option, value }];

        Assert.Equal(2, KvPlanCommand.Run(args, TextWriter.Null, error));
        Assert.Contains("kv-plan:", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void WeightsLargerThanAGpu_AskForTensorParallelism()
    {
        using var error = new StringWriter();

        Assert.Equal(2, KvPlanCommand.Run(["--layers", "80", "--kv-heads", "8", "--head-dim", "128", "--tokens", "1000", "--weights-gb", "140", "--gpu-gb", "80"], TextWriter.Null, error));
        Assert.Contains("raise --tp", error.ToString(), StringComparison.Ordinal);
    }
}
