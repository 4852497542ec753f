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
}
