using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Sockets;
using LongContext.Backend.Training;
using LongContext.Gateway.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;

namespace LongContext.Gateway.Tests;

/// <summary>The shipped default set-up end to end: the gateway hosts the backend serving the committed reference model.</summary>
public sealed class SelfHostedBackendTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task ServeBackend_RunsOnlyTheBackend_AsItsOwnProcess_ForAGpuHost()
    {
        await using var backend = await GatewayProcess.StartBackendAsync();
        var client = new ChatClient("lcg-reference", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(backend.BaseAddress, "/v1"), RetryPolicy = new ClientRetryPolicy(0) });

        var probe = NeedleTasks.Passkey(new Random(20261202), 400, 0.5);
        var answer = (await client.CompleteChatAsync([new UserChatMessage(probe.Prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 8 })).Value;

        Assert.True(answer.Usage.InputTokenCount > 0, backend.Output);
        using var http = new HttpClient { BaseAddress = backend.BaseAddress };
        Assert.Contains("lcg-reference", await http.GetStringAsync("/v1/models"), StringComparison.Ordinal);
        // Only the backend: none of the gateway's endpoints.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task DefaultSetUp_AnswersAPasskeyQuestion_ThroughTheGatewayAndTheHostedBackend()
    {
        var port = FreePort();
        var ledger = Path.Combine(Path.GetTempPath(), $"lcg-backend-{Guid.NewGuid():N}.db");
        await using var app = GatewayInstance.Build(
            settingsPath: null,
            "--Ledger:SqlitePath", ledger,
            "--Corpora:Directory", ledger + ".corpora",
            "--Backend:Urls", $"http://127.0.0.1:{port}",
            "--Upstreams:self-hosted:Destinations:local:Address", $"http://127.0.0.1:{port}/v1/");
        await app.StartAsync();
        var client = new ChatClient("lcg-reference", new ApiKeyCredential("lcg-local-dev-key"), new OpenAIClientOptions { Endpoint = new Uri(app.Urls.Single() + "/v1"), RetryPolicy = new ClientRetryPolicy(0) });

        var hits = 0;
        for (var i = 0; i < 5; i++)
        {
            var probe = NeedleTasks.Passkey(new Random(Random.Shared.Next()), 400, i / 4.0);
            var answer = (await client.CompleteChatAsync([new UserChatMessage(probe.Prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 8 })).Value;
            hits += answer.Content[0].Text.Contains(probe.Answer.Trim(), StringComparison.Ordinal) ? 1 : 0;
            Assert.True(answer.Usage.InputTokenCount > 400);
        }

        Assert.True(hits >= 4, $"{hits} of 5 passkeys found");
    }

    [Fact]
    public async Task BackendsKvPlannerRefusal_IsRoutedToAnAttentionMethodWhoseCacheFits()
    {
        // The backend allows 40 KB of KV cache. The reference model keeps 1 KB per token (2 layers ×
        // K and V × 2 heads × 32 × 4 bytes), so a ~430-token prompt needs ~440 KB with full, ring or
        // star attention; infini keeps one 32-token segment, 32 KB. The gateway's own catalog thinks
        // everything fits (8 GB), so only the backend's refusals can move the request.
        var port = FreePort();
        var ledger = Path.Combine(Path.GetTempPath(), $"lcg-backend-{Guid.NewGuid():N}.db");
        await using var app = GatewayInstance.Build(
            settingsPath: null,
            "--Ledger:SqlitePath", ledger,
            "--Corpora:Directory", ledger + ".corpora",
            "--Backend:Urls", $"http://127.0.0.1:{port}",
            "--Backend:Options:MaxKvBytes", "40000",
            "--Backend:Options:Attention:InfiniSegmentTokens", "32",
            "--Upstreams:self-hosted:Destinations:local:Address", $"http://127.0.0.1:{port}/v1/");
        await app.StartAsync();
        var client = new ChatClient("lcg-reference", new ApiKeyCredential("lcg-local-dev-key"), new OpenAIClientOptions { Endpoint = new Uri(app.Urls.Single() + "/v1"), RetryPolicy = new ClientRetryPolicy(0) });
        var probe = NeedleTasks.Passkey(new Random(Random.Shared.Next()), 400, 0.5);

        var result = await client.CompleteChatAsync([new UserChatMessage(probe.Prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 4 });

        var headers = result.GetRawResponse().Headers;
        Assert.True(headers.TryGetValue("X-LCG-Candidate", out var candidate));
        Assert.Equal("long_context:lcg-reference:infini", candidate);
        Assert.True(headers.TryGetValue("X-LCG-Rerouted-From", out var from));
        Assert.Equal(["long_context:lcg-reference:full", "long_context:lcg-reference:ring", "long_context:lcg-reference:star"], from!.Split(',').Order());
        Assert.True(result.Value.Usage.InputTokenCount > 400);
    }

    [Fact]
    public async Task EvalCommand_SweepsPasskeysThroughTheDefaultSetUp_AndWritesTheTable()
    {
        var port = FreePort();
        var ledger = Path.Combine(Path.GetTempPath(), $"lcg-eval-{Guid.NewGuid():N}.db");
        await using var app = GatewayInstance.Build(
            settingsPath: null,
            "--Ledger:SqlitePath", ledger,
            "--Corpora:Directory", ledger + ".corpora",
            "--Backend:Urls", $"http://127.0.0.1:{port}",
            "--Upstreams:self-hosted:Destinations:local:Address", $"http://127.0.0.1:{port}/v1/");
        await app.StartAsync();
        var directory = Directory.CreateTempSubdirectory("lcg-eval-").FullName;
        // The landmark-attention filler the reference model was trained on, as the user's own haystack files.
        Directory.CreateDirectory(Path.Combine(directory, "haystack"));
        await File.WriteAllTextAsync(Path.Combine(directory, "haystack", "filler.txt"), NeedleTasks.Filler);
        var (output, error) = (new StringWriter(), new StringWriter());

        var exit = await LongContext.Evaluation.EvalCommand.RunAsync(
            ["--gateway", app.Urls.Single(), "--key", "lcg-local-dev-key", "--model", "lcg-reference", "--route", "long_context",
             "--kinds", "passkey", "--lengths", "300,450", "--depths", "0,0.5,1", "--tokenizer", "bytes", "--context", "message",
             "--haystack", Path.Combine(directory, "haystack"), "--max-tokens", "8", "--seed", "5",
             "--admin-key", "lcg-local-admin-key", "--tenant", "local", "--record", "true", "--out", Path.Combine(directory, "out")],
            output, error);

        Assert.True(exit == 0, error.ToString());
        var lines = await File.ReadAllLinesAsync(Path.Combine(directory, "out", "results.jsonl"));
        Assert.Equal(6, lines.Length);
        var rows = lines.Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.All(rows, r => Assert.Equal(("long_context", "ledger"), ((string)r["route"]!, (string)r["cost_source"]!)));
        var hits = rows.Count(r => (bool)r["hit"]!);
        Assert.True(hits >= 5, $"{hits} of 6 passkeys found: {output}");
        var summary = await File.ReadAllTextAsync(Path.Combine(directory, "out", "summary.md"));
        Assert.Contains("| length \\ depth |", summary, StringComparison.Ordinal);
        Assert.Contains("| 450 |", summary, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(directory, "out", "heatmap-long_context.svg")));

        // Recorded: the dashboard shows the measured recall beside the expected one.
        using var admin = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", "lcg-local-admin-key");
        var dashboard = System.Text.Json.Nodes.JsonNode.Parse(await admin.GetStringAsync("/api/dashboard/summary?tenant=local&days=1"))!;
        var cell = dashboard["recall"]!.AsArray().Single(c => (string)c!["route"]! == "long_context" && (string)c!["bucket"]! == "<8K")!;
        Assert.Equal(6, (int)cell["measured_probes"]!);
        Assert.Equal(Math.Round(hits / 6.0, 4), (double)cell["measured_recall"]!);
        Assert.NotNull(cell["expected_recall"]);

        // And calibrate reads the run's results as they are: a context-rot curve for the reference model.
        var curvePath = Path.Combine(directory, "lcg-reference-measured.json");
        var calibrated = LongContext.Gateway.Routing.CalibrateCommand.Run(
            ["--name", "lcg-reference-measured", "--out", curvePath, "--route", "long_context", "--model", "lcg-reference", Path.Combine(directory, "out", "results.jsonl")],
            TextWriter.Null, error);
        Assert.True(calibrated == 0, error.ToString());
        var curve = LongContext.Gateway.Routing.ContextRotFiles.Load(curvePath);
        Assert.Equal([300L, 450L], curve.Points.Select(p => p.Tokens));
        Directory.Delete(directory, recursive: true);
    }
}
