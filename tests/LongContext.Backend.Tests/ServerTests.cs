using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LongContext.Backend.Checkpoints;
using LongContext.Backend.Model;
using LongContext.Backend.Server;
using Microsoft.AspNetCore.Builder;
using OpenAI;
using OpenAI.Chat;

namespace LongContext.Backend.Tests;

/// <summary>The backend server on a real Kestrel listener at 127.0.0.1, a small random byte-level model, the official OpenAI SDK as client.</summary>
public sealed class ServerTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-backend-").FullName;
    private BackendModel _model = null!;
    private WebApplication _app = null!;

    private Uri Address => new(_app.Urls.Single() + "/v1/");

    public async Task InitializeAsync()
    {
        using (var weights = DecoderWeights.Initialise(DecoderTests.RandomWeights().Config with { VocabularySize = Tokenization.ByteTokenizer.VocabularySize, Tokenizer = "bytes", MaxPositions = 2048, EosTokenIds = null }, Random.Shared.NextInt64()))
        {
            Checkpoint.Save(_directory, weights);
        }

        // 2 layers × 2 KV heads × 8 dims × 4 bytes × 2 (K and V) = 256 bytes per token: 64 KB holds 256 tokens.
        _model = BackendModel.Load(new BackendOptions { ModelDirectory = _directory, ServedModelId = "tiny", MaxKvBytes = 256 * 256, DefaultMaxTokens = 8 }, _directory);
        _app = await BackendServer.StartAsync(_model, "http://127.0.0.1:0");
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _model.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private ChatClient Client() => new("tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = Address, RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) });

    private HttpClient Http() => new() { BaseAddress = Address };

    [Fact]
    public async Task Chat_AnswersWithUsage_AndGreedyIsDeterministic()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };
        var first = (await Client().CompleteChatAsync([new UserChatMessage("The pass key is 12345. What is the pass key?")], options)).Value;
        var second = (await Client().CompleteChatAsync([new UserChatMessage("The pass key is 12345. What is the pass key?")], options)).Value;

        Assert.Equal(first.Content[0].Text, second.Content[0].Text);
        Assert.Equal(1 + Encoding.UTF8.GetByteCount("The pass key is 12345. What is the pass key?"), first.Usage.InputTokenCount);
        Assert.InRange(first.Usage.OutputTokenCount, 1, 12);
        Assert.Equal(first.Usage.OutputTokenCount == 12 ? ChatFinishReason.Length : ChatFinishReason.Stop, first.FinishReason);
    }

    [Theory]
    [InlineData("ring")]
    [InlineData("star")]
    public async Task ExactMethods_GiveFullAttentionsGreedyAnswer(string method)
    {
        var prompt = "The sky is blue. The pass key is 4242. Remember it. What is the pass key?";
        using var http = Http();
        async Task<string> Answer(string attention)
        {
            var body = new JsonObject { ["model"] = "tiny", ["max_tokens"] = 10, ["messages"] = new JsonArray(new JsonObject { ["role"] = "system", ["content"] = prompt }, new JsonObject { ["role"] = "user", ["content"] = "Answer." }), ["lcg"] = new JsonObject { ["attention"] = new JsonObject { ["method"] = attention, ["star_block_tokens"] = 4096 } } };
            using var response = await http.PostAsync("chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(attention, response.Headers.GetValues("X-LCG-Attention").Single());
            return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!["message"]!["content"]!;
        }

        Assert.Equal(await Answer("full"), await Answer(method));
    }

    [Fact]
    public async Task Streaming_SendsTheSameTextAndUsage()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 };
        var whole = (await Client().CompleteChatAsync([new UserChatMessage("Here we go.")], options)).Value;
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in Client().CompleteChatStreamingAsync([new UserChatMessage("Here we go.")], options))
        {
            text.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
            usage ??= update.Usage;
        }

        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.NotNull(usage);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
    }

    [Fact]
    public async Task TextCompletions_Models_Health_AndMetrics()
    {
        using var http = Http();
        using var completion = await http.PostAsync("completions", new StringContent("""{"model":"tiny","prompt":"The grass is","max_tokens":5,"stop":["\n"]}""", Encoding.UTF8, "application/json"));
        var body = JsonNode.Parse(await completion.Content.ReadAsStringAsync())!;
        var models = (await new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = Address }).GetOpenAIModelClient().GetModelsAsync()).Value;
        using var health = await http.GetAsync(new Uri(_app.Urls.Single() + "/healthz"));
        var metrics = await http.GetStringAsync(new Uri(_app.Urls.Single() + "/metrics"));

        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        Assert.Equal("text_completion", (string?)body["object"]);
        Assert.DoesNotContain("\n", (string)body["choices"]![0]!["text"]!, StringComparison.Ordinal);
        Assert.True((int)body["usage"]!["completion_tokens"]! <= 5);
        Assert.Equal("tiny", Assert.Single(models).Id);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("lcg_backend_requests_total{endpoint=\"completions\",method=\"full\",status=\"200\"} 1", metrics, StringComparison.Ordinal);
        Assert.Matches(@"lcg_backend_decode_tokens_total [1-9]", metrics);
        Assert.Contains("lcg_backend_kv_bytes_peak", metrics, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model":"tiny","messages":[{"role":"user","content":"hi"}],"lcg":{"attention":"flash"}}""", "unknown attention method 'flash'")]
    [InlineData("""{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":-3}""", "max_tokens must be at least 1")]
    [InlineData("""{"model":"tiny","messages":[{"role":"user","content":"hi"}],"lcg":{"attention":{"method":"ring","ring_ranks":0}}}""", "ring_ranks must be at least 1")]
    [InlineData("""{"model":"tiny","messages":[{"role":"user","content":"hi"}""", "not valid JSON")]
    [InlineData("""{"model":"tiny","messages":[]}""", "'messages' must be a non-empty array")]
    [InlineData("""{"model":"tiny","messages":[{"role":"robot","content":"hi"}]}""", "messages[0].role 'robot'")]
    [InlineData("""{"model":"tiny","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "temperature must be a number")]
    public async Task BadRequests_Get400WithAClearMessage(string body, string expected)
    {
        using var http = Http();
        using var response = await http.PostAsync("chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (string)error["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContextPastTheKvPlannersLimit_IsRefused_UnlessTheMethodBoundsTheCache()
    {
        var prompt = string.Concat(Enumerable.Repeat("The grass is green. ", 20)); // 400 bytes: 401 tokens with the begin token
        using var http = Http();
        async Task<HttpResponseMessage> Send(string method) => await http.PostAsync("chat/completions", new StringContent(
            new JsonObject { ["model"] = "tiny", ["max_tokens"] = 4, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }), ["lcg"] = new JsonObject { ["attention"] = new JsonObject { ["method"] = method, ["infini_segment_tokens"] = 64 } } }.ToJsonString(),
            Encoding.UTF8, "application/json"));

        using var full = await Send("full");
        using var infini = await Send("infini");
        var error = JsonNode.Parse(await full.Content.ReadAsStringAsync())!["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, full.StatusCode);
        Assert.Equal("kv_cache_does_not_fit", (string?)error["code"]);
        Assert.Contains("405 tokens", (string)error["message"]!, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, infini.StatusCode);
    }

    [Fact]
    public async Task UnknownModel_Is404()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => new ChatClient("other", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = Address, RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) }).CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, error.Status);
    }
}
