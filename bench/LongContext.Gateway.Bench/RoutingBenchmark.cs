using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LongContext.Evaluation.Probes;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Tenancy;
using LongContext.Routing.Tokens;

namespace LongContext.Gateway.Bench;

/// <summary>
/// The routing benchmark: a mixed workload (corpora of several sizes; questions answerable from
/// one chunk, questions that need two, and two-hop questions whose second fact shares no words
/// with the question, so retrieval misses it) run through the real gateway — retrieval,
/// positioning, routing, accounting — as always-RAG, always-long-context, hybrid and auto.
/// By default the models are the shipped catalog's provider models (their prices, windows and
/// context-rot curves) served by a local reader: it answers with every fact present in what it was
/// sent (following a holder to the vault), or with the self-route marker when asked to and a fact
/// is missing, and reports usage as the prompt's o200k tokens; so "found" measures whether the
/// route delivered the facts to the model, and how well a real model reads them at that length is
/// the curve's expected recall. With <c>--gateway URL --key KEY --admin-key KEY --tenant ID</c> it
/// runs against a running gateway and whatever upstreams that gateway is configured with: then
/// "found" is a real model's answer.
/// </summary>
internal static class RoutingBenchmark
{
    private const string Key = "sk-routing-bench";
    private const string Admin = "sk-routing-bench-admin";
    private const string Marker = "[[INSUFFICIENT_CONTEXT]]";

    public static async Task<int> RunAsync(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var sizes = Option("--sizes", "2000,16000,128000,400000,1000000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var questions = int.Parse(Option("--questions", "4"), CultureInfo.InvariantCulture);
        var twoHop = int.Parse(Option("--two-hop", "2"), CultureInfo.InvariantCulture);
        var external = Option("--gateway", "");
        var o200k = TokenCounters.Shared.Get(TokenCounters.O200kBase);

        var floor = double.Parse(Option("--recall-floor", "0.9"), CultureInfo.InvariantCulture);
        await using var local = external.Length == 0 ? await LocalSetUp.StartAsync(FindRoot(), o200k, floor) : null;
        var (url, key, adminKey, tenant) = local is not null
            ? (local.Url, Key, Admin, "bench")
            : (external, Option("--key", ""), Option("--admin-key", ""), Option("--tenant", ""));
        if (key.Length == 0 || adminKey.Length == 0 || tenant.Length == 0)
        {
            Console.Error.WriteLine("routing --gateway URL needs --key KEY --admin-key KEY --tenant ID (the tenant of KEY)");
            return 2;
        }

        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(30) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);

        // The workload: per corpus, facts planted at spread depths ("The access code for vault-… is …"), and
        // for the two-hop questions a holder sentence far from its vault's code ("Dr. … holds the keys to vault-…").
        var random = new Random(20261202);
        var items = new List<Item>();
        foreach (var size in sizes)
        {
            var started = Stopwatch.GetTimestamp();
            // Besides the facts asked about, one more vault per 1,000 tokens (at least 16): retrieval has to pick the
            // right code among many that share every word but the vault's name.
            var vaults = 2 * questions + twoHop + Math.Max(16, size / 1000);
            var facts = Enumerable.Range(0, vaults).Select(i => (Name: $"vault-{size}-{i}", Code: random.Next(100_000, 999_999).ToString(CultureInfo.InvariantCulture))).ToList();
            var holders = Enumerable.Range(0, twoHop).Select(i => (Holder: $"Dr. {Surnames[(i + size) % Surnames.Length]}", Vault: facts[2 * questions + i])).ToList();
            var text = Haystack.Generated(size, size * 5).Take(size * 5);
            var cut = text[..Math.Min(text.Length, CharsFor(text, size, o200k))];
            // Every sentence at its own place, the vaults in a shuffled order; a holder lands half the corpus away from its vault.
            var slots = Enumerable.Range(0, vaults).OrderBy(_ => random.Next()).ToArray();
            var placed = facts.Select((f, i) => (Sentence: $"The access code for {f.Name} is {f.Code}. ", Place: (slots[i] + 0.5) / vaults))
                .Concat(holders.Select((h, i) => (Sentence: $"{h.Holder} holds the keys to {h.Vault.Name}. ", Place: ((slots[2 * questions + i] + 0.5) / vaults + 0.5) % 1)));
            var chars = new StringBuilder(cut);
            foreach (var (sentence, place) in placed.OrderByDescending(p => p.Place))
            {
                var at = cut.LastIndexOf(". ", (int)(place * cut.Length), StringComparison.Ordinal) + 2;
                chars.Insert(Math.Max(0, at), sentence);
            }

            using var created = await http.PostAsync("/v1/vector_stores", Json(new JsonObject { ["name"] = $"corpus-{size}" }));
            created.EnsureSuccessStatusCode();
            var corpus = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
            using var added = await http.PostAsync($"/v1/vector_stores/{corpus}/documents", Json(new JsonObject { ["documents"] = new JsonArray(new JsonObject { ["id"] = "doc", ["text"] = chars.ToString() }) }));
            added.EnsureSuccessStatusCode();
            for (var q = 0; q < questions; q++)
            {
                items.Add(new(size, corpus, Kind.OneFact, $"What is the access code for {facts[q].Name}?", [facts[q].Code]));
                var (first, second) = (facts[questions + q], facts[questions + (q + 1) % questions]);
                items.Add(new(size, corpus, Kind.TwoFacts, $"What are the access code for {first.Name} and the access code for {second.Name}?", [first.Code, second.Code]));
            }

            foreach (var (holder, vault) in holders)
            {
                items.Add(new(size, corpus, Kind.TwoHop, $"What is the access code for the vault whose keys {holder} holds?", [vault.Code]));
            }

            Console.Error.WriteLine($"corpus of {size:N0} tokens indexed in {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s");
        }

        using var admin = new HttpClient { BaseAddress = http.BaseAddress, Timeout = http.Timeout };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
        (string Name, string Route)[] modes = [("always RAG", "rag"), ("always long context", "long_context"), ("hybrid (forced)", "hybrid"), ("auto", "auto")];

        var rows = new List<Row>();
        foreach (var mode in modes)
        {
            var started = Stopwatch.GetTimestamp();
            foreach (var item in items)
            {
                var body = new JsonObject
                {
                    ["model"] = "auto",
                    ["max_tokens"] = 64,
                    ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = item.Question }),
                    ["lcg"] = new JsonObject { ["corpus"] = item.Corpus, ["route"] = mode.Route },
                };
                using var response = await http.PostAsync("/v1/chat/completions", Json(body));
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Console.Error.WriteLine($"{mode.Name}, {item.Size:N0} tokens: HTTP {(int)response.StatusCode} {text[..Math.Min(text.Length, 300)]}");
                    rows.Add(new(mode.Name, item, false, 0, 0, null, false));
                    continue;
                }

                var answer = JsonNode.Parse(text)!["choices"]![0]!["message"]!["content"]!.ToString();
                var id = response.Headers.GetValues("X-LCG-Decision-Id").Single();
                var expected = double.Parse(response.Headers.GetValues("X-LCG-Expected-Recall").Single(), CultureInfo.InvariantCulture);
                var decision = JsonNode.Parse(await admin.GetStringAsync($"/api/dashboard/decisions/{id}?tenant={tenant}"))!;
                rows.Add(new(mode.Name, item, item.Codes.All(c => answer.Contains(c, StringComparison.Ordinal)), expected,
                    decision["actual_cost_usd"]?.GetValue<decimal>() ?? 0, response.Headers.GetValues("X-LCG-Route").Single(),
                    response.Headers.TryGetValues("X-LCG-Escalated", out var e) && e.Single() == "true"));
            }

            Console.Error.WriteLine($"{mode.Name}: done in {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s");
        }

        Report(rows, sizes, local is not null ? $"local reader: found = the route delivered the facts; tenant recall floor {floor:P0}" : "a running gateway's upstreams: found = the model's answer had every code");
        return 0;
    }

    private static void Report(List<Row> rows, int[] sizes, string setUp)
    {
        var perMode = rows.Count / rows.Select(r => r.Mode).Distinct().Count();
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd}; corpora {string.Join(", ", sizes.Select(s => s.ToString("N0", CultureInfo.InvariantCulture)))} o200k tokens; {perMode} questions per mode "
            + $"({string.Join(", ", rows.Take(perMode).GroupBy(r => r.Item.Kind).Select(g => $"{g.Count()} {Describe(g.Key)}"))}); "
            + setUp);
        Console.WriteLine("| mode | cost (ledger) | cost vs always-LC | found (measured) | expected recall (curves) | found × expected | routes taken |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        var lcCost = rows.Where(r => r.Mode == "always long context").Sum(r => r.Cost);
        foreach (var mode in rows.GroupBy(r => r.Mode))
        {
            var cost = mode.Sum(r => r.Cost);
            var taken = string.Join(", ", mode.GroupBy(r => r.Route ?? "refused").Select(g => $"{g.Key} {g.Count()}")) + (mode.Any(r => r.Escalated) ? $" (escalated {mode.Count(r => r.Escalated)})" : "");
            Console.WriteLine($"| {mode.Key} | ${cost:0.####} | {(lcCost == 0 ? 0 : cost / lcCost):P1} | {mode.Count(r => r.Found) / (double)mode.Count():P1} | {mode.Average(r => r.Expected):P1} | {mode.Average(r => r.Found ? r.Expected : 0):P1} | {taken} |");
        }

        Console.WriteLine();
        var kinds = rows.Select(r => r.Item.Kind).Distinct().Order().ToList();
        Console.WriteLine($"| mode | size | {string.Join(" | ", kinds.Select(k => Describe(k) + " found"))} | escalated | cost |");
        Console.WriteLine($"|---|---|{string.Concat(kinds.Select(_ => "---|"))}---|---|");
        foreach (var group in rows.GroupBy(r => (r.Mode, r.Item.Size)))
        {
            var found = kinds.Select(k => $"{group.Where(r => r.Item.Kind == k).Count(r => r.Found)}/{group.Count(r => r.Item.Kind == k)}");
            Console.WriteLine($"| {group.Key.Mode} | {group.Key.Size:N0} | {string.Join(" | ", found)} | {group.Count(r => r.Escalated)} | ${group.Sum(r => r.Cost):0.#####} |");
        }
    }

    private static string Describe(Kind kind) => kind switch
    {
        Kind.OneFact => "one-fact",
        Kind.TwoFacts => "two-fact",
        _ => "two-hop",
    };

    private enum Kind
    {
        OneFact,
        TwoFacts,
        TwoHop,
    }

    private sealed record Item(int Size, string Corpus, Kind Kind, string Question, string[] Codes);

    private sealed record Row(string Mode, Item Item, bool Found, double Expected, decimal Cost, string? Route, bool Escalated);

    private static readonly string[] Surnames = ["Okafor", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Kowalski", "Ferreira", "Novak", "Abara", "Castellanos", "Ivanova", "Mbeki"];

    /// <summary>The reader and a gateway on the shipped routing profiles of three provider models, on 127.0.0.1.</summary>
    private sealed class LocalSetUp : IAsyncDisposable
    {
        private readonly WebApplication _reader;
        private readonly WebApplication _gateway;
        private readonly string _directory;

        private LocalSetUp(WebApplication reader, WebApplication gateway, string directory) => (_reader, _gateway, _directory) = (reader, gateway, directory);

        public string Url => _gateway.Urls.Single();

        public static async Task<LocalSetUp> StartAsync(string root, ITokenCounter o200k, double floor)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 256 << 20);
            builder.Logging.ClearProviders();
            var reader = builder.Build();
            reader.MapPost("/v1/chat/completions", async (HttpContext context) =>
            {
                var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync())!.AsObject();
                var messages = body["messages"]!.AsArray().Select(m => m!["content"]?.ToString() ?? "").ToList();
                var everything = string.Join("\n", messages);
                var answer = Read(messages[^1], everything);
                var prompt = o200k.Count(everything);
                return Results.Json(new { id = "r", @object = "chat.completion", created = 0, model = (string)body["model"]!, choices = new[] { new { index = 0, message = new { role = "assistant", content = answer }, finish_reason = "stop" } }, usage = new { prompt_tokens = prompt, completion_tokens = 12, total_tokens = prompt + 12 } });
            });
            await reader.StartAsync();

            var directory = Directory.CreateTempSubdirectory("lcg-routing-bench-").FullName;
            Copy(Path.Combine(root, "config", "context-rot"), Path.Combine(directory, "config", "context-rot"));
            Copy(Path.Combine(root, "config", "prompts"), Path.Combine(directory, "config", "prompts"));
            var shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "config", "models.json")))!["Models"]!;
            var models = new JsonObject();
            foreach (var name in new[] { "gpt-5-mini", "gpt-5.2", "gemini-3-pro" })
            {
                var model = shipped[name]!.DeepClone().AsObject();
                model["Upstream"] = "reader";
                model.Remove("UpstreamHeaders");
                models[name] = model;
            }

            var routing = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "config", "routing.json")))!.AsObject();
            routing["Ledger"] = new JsonObject { ["Store"] = "Sqlite", ["SqlitePath"] = "data/ledger.db" };
            JsonObject Tenant(string key, double floor) => new() { ["ApiKeyHashes"] = new JsonArray(ApiKeyHash.ToHex(key)), ["AllowedModels"] = new JsonArray("*"), ["Policy"] = new JsonObject { ["RecallFloor"] = floor } };
            var settings = new JsonObject
            {
                ["Gateway"] = new JsonObject { ["AdminKeyHashes"] = new JsonArray(ApiKeyHash.ToHex(Admin)), ["Limits"] = new JsonObject { ["MaxRequestBodyBytes"] = 64 << 20 } },
                ["Upstreams"] = new JsonObject { ["reader"] = new JsonObject { ["Destinations"] = new JsonObject { ["main"] = new JsonObject { ["Address"] = reader.Urls.Single().TrimEnd('/') + "/v1/" } } } },
                ["Models"] = models,
                ["Tenants"] = new JsonObject { ["bench"] = Tenant(Key, floor) },
                ["Routing"] = routing["Routing"]!.DeepClone(),
                ["Ledger"] = routing["Ledger"]!.DeepClone(),
                ["Corpora"] = new JsonObject { ["Directory"] = "data/corpora" },
                ["Backend"] = new JsonObject { ["Enabled"] = false },
            };
            var settingsPath = Path.Combine(directory, "appsettings.json");
            File.WriteAllText(settingsPath, settings.ToJsonString());
            var gateway = GatewayApp.Build(["--settings", settingsPath, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"]);
            await gateway.StartAsync();
            return new LocalSetUp(reader, gateway, directory);
        }

        /// <summary>Answers from what it was sent: every asked code, a holder followed to the vault; else the marker when offered.</summary>
        private static string Read(string question, string everything)
        {
            var asked = Regex.Matches(question, @"access code for (vault-[\w-]+)").Select(m => m.Groups[1].Value).ToList();
            foreach (var holder in Regex.Matches(question, @"whose keys (Dr\. \w+) holds").Select(m => m.Groups[1].Value))
            {
                var held = Regex.Match(everything, $@"{Regex.Escape(holder)} holds the keys to (vault-[\w-]+)\.");
                asked.Add(held.Success ? held.Groups[1].Value : "(unknown)");
            }

            var found = asked.Select(name => Regex.Match(everything, $@"The access code for {Regex.Escape(name)} is (\d+)\.")).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
            return found.Count == asked.Count && asked.Count > 0 ? "The codes: " + string.Join(", ", found) + "."
                : everything.Contains(Marker, StringComparison.Ordinal) ? Marker : "I cannot find it.";
        }

        public async ValueTask DisposeAsync()
        {
            await _gateway.StopAsync();
            await _gateway.DisposeAsync();
            await _reader.StopAsync();
            await _reader.DisposeAsync();
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static int CharsFor(string text, int tokens, ITokenCounter counter)
    {
        var (low, high) = (0, text.Length);
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if (counter.Count(text[..middle]) <= tokens)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    /// <summary>The repository holding the benchmark's build, or else the working directory's.</summary>
    private static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "LongContext.Gateway.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        throw new InvalidOperationException("Run the benchmark from inside the repository.");
    }
}
