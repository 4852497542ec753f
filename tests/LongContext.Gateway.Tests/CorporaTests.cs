#pragma warning disable OPENAI001 // the SDK marks its vector store client experimental
using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LongContext.Gateway.Tests.Infrastructure;
using OpenAI.VectorStores;

namespace LongContext.Gateway.Tests;

/// <summary>Corpora through the vector stores API, and chat requests that answer from them.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class CorporaTests(GatewayFixture fixture)
{
    private const string Fact = "The backup generator in hangar nine runs on hydrogen and was installed in 2019.";

    private readonly GatewayInstance _gateway = fixture.Gateway;

    private VectorStoreClient Stores(string key) => new OpenAI.OpenAIClient(new ApiKeyCredential(key), _gateway.ClientOptions()).GetVectorStoreClient();

    [Fact]
    public async Task OfficialSdk_CreatesListsGetsAndDeletesCorpora()
    {
        var stores = Stores(GatewayConfig.AcmeKey);

        VectorStore created = await stores.CreateVectorStoreAsync(new VectorStoreCreationOptions { Name = "handbook" });
        VectorStore fetched = await stores.GetVectorStoreAsync(created.Id);
        var listed = new List<VectorStore>();
        await foreach (var store in stores.GetVectorStoresAsync())
        {
            listed.Add(store);
        }

        VectorStoreDeletionResult deleted = await stores.DeleteVectorStoreAsync(created.Id);

        Assert.StartsWith("vs_", created.Id, StringComparison.Ordinal);
        Assert.Equal("handbook", fetched.Name);
        Assert.Contains(listed, s => s.Id == created.Id);
        Assert.True(deleted.Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => stores.GetVectorStoreAsync(created.Id));
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task AnotherTenantsCorpus_Is404Everywhere_AndNeverListed()
    {
        using var acme = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        using var globex = _gateway.CreateHttpClient(GatewayConfig.GlobexKey);
        var id = await CreateAsync(acme, "acme-secrets");
        await IngestJsonAsync(acme, id, ("s1", "The vault combination is 31-7-44."));

        var list = JsonNode.Parse(await globex.GetStringAsync("/v1/vector_stores"))!;
        Assert.DoesNotContain(list["data"]!.AsArray(), s => (string?)s!["id"] == id);
        foreach (var response in new[]
        {
            await globex.GetAsync($"/v1/vector_stores/{id}"),
            await globex.PostAsync($"/v1/vector_stores/{id}/search", Json("""{"query":"vault combination"}""")),
            await globex.PostAsync($"/v1/vector_stores/{id}/documents", Json("""{"documents":[{"text":"planted by another tenant"}]}""")),
            await globex.DeleteAsync($"/v1/vector_stores/{id}"),
            await globex.PostAsync("/v1/chat/completions", Json($$$"""{"model":"gpt-test","messages":[{"role":"user","content":"vault?"}],"lcg":{"corpus":"{{{id}}}"}}""")),
        })
        {
            using (response)
            {
                await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.NotFound, "not_found");
            }
        }

        var still = JsonNode.Parse(await acme.GetStringAsync($"/v1/vector_stores/{id}"))!;
        Assert.Equal(1, (int)still["file_counts"]!["completed"]!);
    }

    [Fact]
    public async Task Documents_AsJsonJsonlAndText_AreChunkedCountedAndSearchable()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var id = await CreateAsync(http, "formats");

        await IngestJsonAsync(http, id, ("manual", "Press the red button twice to reset the device."));
        using var jsonl = await http.PostAsync($"/v1/vector_stores/{id}/documents", new StringContent("{\"id\":\"faq\",\"text\":\"Refunds take five working days.\"}\n\n{\"text\":\"" + Fact + "\"}\n", Encoding.UTF8, "application/x-ndjson"));
        jsonl.EnsureSuccessStatusCode();
        using var text = await http.PostAsync($"/v1/vector_stores/{id}/documents?name=notes.md", new StringContent("# Notes\n\nThe office closes at six on Fridays.", Encoding.UTF8, "text/markdown"));
        text.EnsureSuccessStatusCode();

        var store = JsonNode.Parse(await http.GetStringAsync($"/v1/vector_stores/{id}"))!;
        Assert.Equal(4, (int)store["file_counts"]!["completed"]!);
        Assert.True((long)store["token_count"]! > 20);
        var search = JsonNode.Parse(await (await http.PostAsync($"/v1/vector_stores/{id}/search", Json("""{"query":"what powers the hangar generator?","max_num_results":2}"""))).Content.ReadAsStringAsync())!;
        Assert.Equal("vector_store.search_results.page", (string?)search["object"]);
        Assert.Contains("hydrogen", (string?)search["data"]![0]!["content"]![0]!["text"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadJsonlLine_Returns400NamingTheLine_AndAddsNothing()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var id = await CreateAsync(http, "strict");

        using var response = await http.PostAsync($"/v1/vector_stores/{id}/documents", new StringContent("{\"text\":\"fine\"}\n{\"txt\":\"typo\"}\n", Encoding.UTF8, "application/x-ndjson"));

        var error = await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.BadRequest, "invalid_value");
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
        var store = JsonNode.Parse(await http.GetStringAsync($"/v1/vector_stores/{id}"))!;
        Assert.Equal(0, (int)store["file_counts"]!["completed"]!);
    }

    [Fact]
    public async Task Ingestion_ReportsProgress_AsServerSentEvents()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var id = await CreateAsync(http, "progress");
        var documents = new JsonArray([.. Enumerable.Range(0, 6).Select(i => new JsonObject { ["id"] = $"d{i}", ["text"] = string.Join(" ", Enumerable.Repeat($"Paragraph {i} talks about the weather and the harvest.", 150)) })]);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/vector_stores/{id}/documents") { Content = Json(new JsonObject { ["documents"] = documents }.ToJsonString()) };
        request.Headers.Accept.ParseAdd("text/event-stream");

        using var response = await http.SendAsync(request);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();

        Assert.Equal("[DONE]", events[^1]);
        var updates = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        Assert.Contains(updates, u => (string?)u["status"] == "embedding");
        var done = updates[^1];
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(6, (int)done["vector_store"]!["file_counts"]!["completed"]!);
        var embedded = updates.Where(u => (string?)u["status"] == "embedding").Select(u => (int)u["chunks_done"]!).ToList();
        Assert.Equal(embedded.Order(), embedded);
    }

    [Fact]
    public async Task ChatWithCorpus_GoesRag_AndSendsTheRetrievedChunksWithMarkers()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var id = await CreateHaystackAsync(http);

        using var response = await http.PostAsync("/v1/chat/completions", Json($$$"""{"model":"gpt-test","messages":[{"role":"user","content":"rag-marker: what powers the generator in hangar nine?"}],"lcg":{"corpus":"{{{id}}}"}}"""));

        response.EnsureSuccessStatusCode();
        Assert.Equal("rag", response.Headers.GetValues("X-LCG-Route").Single());
        var sent = JsonNode.Parse(fixture.Stub.LastRequestWith("rag-marker").Body)!;
        var system = (string)sent["messages"]![0]!["content"]!;
        Assert.Contains("[1] ", system, StringComparison.Ordinal);
        Assert.Contains("hydrogen", system, StringComparison.Ordinal);
        // Only the top chunks travel, not the corpus.
        Assert.True(system.Length < 20_000, $"RAG prompt of {system.Length} characters from a corpus of about 100,000");
    }

    [Fact]
    public async Task ChatWithCorpus_ForcedLongContext_SendsTheWholeCorpus_KeyChunkFirst()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var id = await CreateHaystackAsync(http);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Json($$"""{"model":"gpt-test","messages":[{"role":"user","content":"lc-marker: what powers the generator in hangar nine?"}]}"""),
        };
        request.Headers.Add("X-LCG-Corpus", id);
        request.Headers.Add("X-LCG-Route", "long_context");

        using var response = await http.SendAsync(request);

        response.EnsureSuccessStatusCode();
        Assert.Equal("long_context", response.Headers.GetValues("X-LCG-Route").Single());
        var system = (string)JsonNode.Parse(fixture.Stub.LastRequestWith("lc-marker").Body)!["messages"]![0]!["content"]!;
        var first = system.IndexOf("[1] ", StringComparison.Ordinal);
        Assert.Contains("hydrogen", system[first..(first + 600)], StringComparison.Ordinal);
        // Every document's text is there, each filler sentence once despite the chunk overlap.
        Assert.Contains("Filler document 7 line 39.", system, StringComparison.Ordinal);
        Assert.Equal(1, CountOf(system, "Filler document 3 line 17."));
    }

    [Fact]
    public async Task DryRunWithCorpus_ScoresRagWithTheRetrievedPrompt_AndHybridWithThePrior()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        var id = await CreateHaystackAsync(http);

        using var response = await http.PostAsync("/v1/route", Json($$$"""{"model":"gpt-test","messages":[{"role":"user","content":"what powers the generator in hangar nine?"}],"lcg":{"corpus":"{{{id}}}"}}"""));

        var decision = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("rag", (string?)decision["route"]);
        Assert.True((bool)decision["request"]!["retrieval_available"]!);
        var corpus = decision["corpus"]!;
        Assert.Equal(id, (string?)corpus["id"]);
        Assert.Equal("facts.txt", (string?)corpus["retrieved"]![0]!["document"]);
        Assert.InRange((double)corpus["rag_key_depth"]!, 0, 0.2);
        var rag = decision["candidates"]!.AsArray().Single(c => (string?)c!["id"] == "rag:gpt-test")!;
        Assert.Contains(rag["basis"]!.AsArray(), b => ((string?)b)!.Contains("tokens of retrieved chunks", StringComparison.Ordinal));
        var hybrid = decision["candidates"]!.AsArray().First(c => (string?)c!["route"] == "hybrid")!;
        Assert.DoesNotContain(hybrid["rejected_because"]!.AsArray(), r => ((string?)r)!.Contains("cannot be carried out", StringComparison.Ordinal));
        Assert.Contains(hybrid["basis"]!.AsArray(), b => ((string?)b)!.Contains("0 of 0 observed escalated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnknownCorpus_Returns404_NamingTheField()
    {
        using var http = _gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var response = await http.PostAsync("/v1/chat/completions", Json("""{"model":"gpt-test","messages":[{"role":"user","content":"x"}],"lcg":{"corpus":"vs_nope"}}"""));

        await ErrorAssert.IsOpenAiErrorAsync(response, HttpStatusCode.NotFound, "not_found", "lcg.corpus");
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;

    private static async Task<string> CreateHaystackAsync(HttpClient http)
    {
        var id = await CreateAsync(http, "haystack");
        var documents = Enumerable.Range(0, 8).Select(d => ($"filler-{d}", string.Join("\n\n", Enumerable.Range(0, 120).Select(l => $"Filler document {d} line {l}. The weather report mentions clouds and a light breeze over the fields."))));
        await IngestJsonAsync(http, id, [.. documents, ("facts", Fact)]);
        return id;
    }

    private static async Task<string> CreateAsync(HttpClient http, string name)
    {
        using var response = await http.PostAsync("/v1/vector_stores", Json($$"""{"name":"{{name}}"}"""));
        response.EnsureSuccessStatusCode();
        return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;
    }

    private static async Task IngestJsonAsync(HttpClient http, string id, params (string Id, string Text)[] documents)
    {
        var body = new JsonObject { ["documents"] = new JsonArray([.. documents.Select(d => new JsonObject { ["id"] = d.Id, ["name"] = d.Id + ".txt", ["text"] = d.Text })]) };
        using var response = await http.PostAsync($"/v1/vector_stores/{id}/documents", Json(body.ToJsonString()));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

/// <summary>Qdrant instead of the embedded store is one config change.</summary>
public sealed class QdrantCorporaTests
{
    [Fact]
    public async Task GatewayOnQdrant_IngestsSearchesAndAnswersFromACorpus()
    {
        await using var qdrant = await LongContext.Rag.Tests.Qdrant.QdrantProtocolFixture.StartAsync();
        await using var stub = await StubUpstream.StartAsync();
        var config = GatewayConfig.Standard(stub);
        config.Routing["Corpora"] = new JsonObject { ["Store"] = "Qdrant", ["Qdrant"] = new JsonObject { ["Address"] = qdrant.Address.ToString() } };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var created = await http.PostAsync("/v1/vector_stores", new StringContent("""{"name":"on-qdrant"}""", Encoding.UTF8, "application/json"));
        var id = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        using var added = await http.PostAsync($"/v1/vector_stores/{id}/documents", new StringContent("""{"documents":[{"id":"a","text":"The backup generator in hangar nine runs on hydrogen."},{"id":"b","text":"Lunch is served at noon in the canteen."}]}""", Encoding.UTF8, "application/json"));
        added.EnsureSuccessStatusCode();
        using var chat = await http.PostAsync("/v1/chat/completions", new StringContent($$$"""{"model":"gpt-test","messages":[{"role":"user","content":"qdrant-marker: what fuels the hangar generator?"}],"lcg":{"corpus":"{{{id}}}","route":"rag"}}""", Encoding.UTF8, "application/json"));

        chat.EnsureSuccessStatusCode();
        Assert.Equal("rag", chat.Headers.GetValues("X-LCG-Route").Single());
        var system = (string)JsonNode.Parse(stub.LastRequestWith("qdrant-marker").Body)!["messages"]![0]!["content"]!;
        Assert.Contains("hydrogen", system, StringComparison.Ordinal);
        var store = JsonNode.Parse(await http.GetStringAsync($"/v1/vector_stores/{id}"))!;
        Assert.Equal(2, (int)store["file_counts"]!["completed"]!);
    }

    [Fact]
    public async Task UnreachableQdrant_StopsTheStart_NamingTheKey()
    {
        await using var stub = await StubUpstream.StartAsync();
        var config = GatewayConfig.Standard(stub);
        config.Routing["Corpora"] = new JsonObject { ["Store"] = "Qdrant", ["Qdrant"] = new JsonObject { ["Address"] = "http://127.0.0.1:9" } };

        var error = await Assert.ThrowsAsync<LongContext.Gateway.Hosting.GatewayStartupException>(() => GatewayInstance.StartAsync(config));

        Assert.Contains("Corpora:Qdrant:Address", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Any OpenAI-compatible embeddings endpoint instead of the local model.</summary>
public sealed class RemoteEmbeddingsTests
{
    [Fact]
    public async Task CorporaEmbedThroughTheConfiguredEndpoint()
    {
        await using var stub = await StubUpstream.StartAsync();
        var config = GatewayConfig.Standard(stub);
        config.Routing["Corpora"] = new JsonObject
        {
            ["Directory"] = "data/corpora",
            ["Embeddings"] = new JsonObject { ["Provider"] = "OpenAI", ["Endpoint"] = stub.BaseAddress.ToString(), ["Model"] = "stub-embed", ["Dimensions"] = 3, ["ApiKey"] = StubUpstream.ApiKey },
        };
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);

        using var created = await http.PostAsync("/v1/vector_stores", new StringContent("""{"name":"remote"}""", Encoding.UTF8, "application/json"));
        var id = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        using var added = await http.PostAsync($"/v1/vector_stores/{id}/documents", new StringContent("""{"documents":[{"id":"a","text":"remote-embedding-marker one"},{"id":"b","text":"remote-embedding-marker two"}]}""", Encoding.UTF8, "application/json"));
        using var search = await http.PostAsync($"/v1/vector_stores/{id}/search", new StringContent("""{"query":"two","mode":"dense"}""", Encoding.UTF8, "application/json"));

        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        var sent = JsonNode.Parse(stub.LastRequestWith("remote-embedding-marker").Body)!;
        Assert.Equal("stub-embed", (string?)sent["model"]);
        Assert.Equal(2, sent["input"]!.AsArray().Count);
        Assert.Equal("Bearer " + StubUpstream.ApiKey, stub.LastRequestWith("remote-embedding-marker").Headers["Authorization"]);
        search.EnsureSuccessStatusCode();
        Assert.Equal(2, JsonNode.Parse(await search.Content.ReadAsStringAsync())!["data"]!.AsArray().Count);
    }
}
