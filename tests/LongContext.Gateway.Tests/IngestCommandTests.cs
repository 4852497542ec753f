using System.Text.Json.Nodes;
using LongContext.Gateway.Corpora;
using LongContext.Gateway.Tests.Infrastructure;

namespace LongContext.Gateway.Tests;

/// <summary>The ingest command against a real gateway on Kestrel.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class IngestCommandTests(GatewayFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-ingest-").FullName;

    [Fact]
    public async Task Folder_OfTextMarkdownAndJsonl_IsIngested_WithAProgressBar()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "docs", "deep"));
        File.WriteAllText(Path.Combine(_directory, "docs", "a.txt"), "Alpha document about sailing boats and the wind.");
        File.WriteAllText(Path.Combine(_directory, "docs", "deep", "b.md"), "# Beta\n\nBeta document about mountain huts.");
        File.WriteAllLines(Path.Combine(_directory, "docs", "c.jsonl"), ["""{"id":"c1","text":"Gamma one."}""", "", """{"text":"Gamma two."}"""]);
        File.WriteAllText(Path.Combine(_directory, "docs", "ignored.bin"), "not a document");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await IngestCommand.RunAsync(["--create", "cli-corpus", "--gateway", fixture.Gateway.BaseAddress.ToString(), "--key", GatewayConfig.AcmeKey, Path.Combine(_directory, "docs")], output, error);

        Assert.True(code == 0, error.ToString());
        Assert.Contains("[##############################] 100%", error.ToString(), StringComparison.Ordinal);
        var id = output.ToString().Split(' ')[2];
        using var http = fixture.Gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var store = JsonNode.Parse(await http.GetStringAsync($"/v1/vector_stores/{id}"))!;
        Assert.Equal("cli-corpus", (string?)store["name"]);
        Assert.Equal(4, (int)store["file_counts"]!["completed"]!);
        Assert.Contains("4 document(s) in 1 batch(es)", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongKey_FailsWithTheGatewaysMessage()
    {
        File.WriteAllText(Path.Combine(_directory, "a.txt"), "text");
        using var error = new StringWriter();

        var code = await IngestCommand.RunAsync(["--create", "x", "--gateway", fixture.Gateway.BaseAddress.ToString(), "--key", "wrong", Path.Combine(_directory, "a.txt")], TextWriter.Null, error);

        Assert.Equal(1, code);
        Assert.Contains("HTTP 401 Incorrect API key provided.", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadJsonlLine_IsReportedBeforeAnythingIsSent()
    {
        File.WriteAllLines(Path.Combine(_directory, "bad.jsonl"), ["""{"text":"fine"}""", """{"txt":"typo"}"""]);
        using var error = new StringWriter();

        var code = await IngestCommand.RunAsync(["--corpus", "vs_any", "--gateway", fixture.Gateway.BaseAddress.ToString(), "--key", GatewayConfig.AcmeKey, Path.Combine(_directory, "bad.jsonl")], TextWriter.Null, error);

        Assert.Equal(1, code);
        Assert.Contains("bad.jsonl:2 has no string \"text\"", error.ToString(), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
