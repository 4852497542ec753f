using System.Collections;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LongContext.Gateway.Backend;
using LongContext.Gateway.Configuration;
using YamlDotNet.RepresentationModel;

namespace LongContext.Gateway.Tests;

/// <summary>
/// deploy/ kept in step with the code: no container engine or cluster runs here, so the files are
/// parsed and cross-checked — every service, image, port, mounted file, environment variable and
/// config key they name must exist in the repository and mean what the code means by it.
/// </summary>
public sealed partial class DeployFilesTests
{
    private static readonly string Root = FindRoot();
    private static readonly string Deploy = Path.Combine(Root, "deploy");

    [Fact]
    public void Compose_HasEveryServiceWithImagesPortsFilesAndConfigKeysThatExist()
    {
        var compose = Single(Path.Combine(Deploy, "compose.yaml"));
        var services = Map(compose, "services");
        string[] expected = ["gateway-1", "gateway-2", "lb", "postgres", "qdrant", "backend", "prometheus", "grafana"];
        Assert.All(expected, name => Assert.True(services.Children.ContainsKey(name), $"compose.yaml has no service {name}"));

        foreach (var (name, node) in services.Children.Select(c => (Scalar(c.Key), (YamlMappingNode)c.Value)))
        {
            var image = Scalar(node, "image") ?? throw new Xunit.Sdk.XunitException($"service {name} has no image");
            if (image.StartsWith("longcontext-", StringComparison.Ordinal))
            {
                var build = Map(node, "build");
                Assert.True(File.Exists(Path.GetFullPath(Path.Combine(Deploy, Scalar(build, "context")!, Scalar(build, "dockerfile")!))), $"{name}: its Dockerfile does not exist");
            }
            else
            {
                Assert.Matches(PinnedImage(), image);
            }

            foreach (var volume in Sequence(node, "volumes").Select(Scalar).Where(v => v!.StartsWith("./", StringComparison.Ordinal)))
            {
                var host = volume!.Split(':')[0];
                Assert.True(File.Exists(Path.Combine(Deploy, host)) || Directory.Exists(Path.Combine(Deploy, host)), $"{name} mounts {host}, which is not in deploy/");
            }

            foreach (var (key, _) in Environment(node).Where(_ => image.StartsWith("longcontext-", StringComparison.Ordinal)))
            {
                Assert.True(SettingsKeys.Exists(key), $"{name}: {key} is not a configuration key of the gateway");
            }
        }

        // The gateways: the shared ledger and Qdrant, the backend out of process, on the port they expose.
        foreach (var gateway in new[] { "gateway-1", "gateway-2" })
        {
            var node = Map(services, gateway);
            var env = Environment(node);
            Assert.Equal(LedgerValidator.Postgres, env["Ledger__Store"]);
            Assert.Equal(CorporaValidator.Qdrant, env["Corpora__Store"]);
            Assert.Equal("false", env["Backend__Enabled"]);
            Assert.Contains("Host=postgres;", env["Ledger__PostgresConnectionString"], StringComparison.Ordinal);
            Assert.Equal(Port(env["Urls"]), int.Parse(Scalar(Sequence(node, "expose").Single())!, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(ServicePort(services, "qdrant", 6334), new Uri(env["Corpora__Qdrant__Address"]).Port);
            var backend = new Uri(env["Upstreams__self-hosted__Destinations__local__Address"]);
            Assert.Equal("backend", backend.Host);
            Assert.Equal(Port(Environment(Map(services, "backend"))["Backend__Urls"]), backend.Port);
        }

        // The environment replaces the self-hosted upstream's one destination; it does not add a second.
        var upstreams = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "config", "upstreams.json")))!;
        Assert.NotNull(upstreams["Upstreams"]!["self-hosted"]!["Destinations"]!["local"]);

        // The backend: a GPU reserved, CUDA libtorch, the port its Urls names.
        var backendService = Map(services, "backend");
        var device = (YamlMappingNode)Sequence(Map(Map(Map(backendService, "deploy"), "resources"), "reservations"), "devices").Single();
        Assert.Equal("nvidia", Scalar(device, "driver"));
        Assert.Contains("gpu", Sequence(device, "capabilities").Select(Scalar));
        Assert.Equal("cuda", Scalar(Map(Map(backendService, "build"), "args"), "LIBTORCH"));
        Assert.StartsWith("cuda:", Environment(backendService)["Backend__Options__Device"], StringComparison.Ordinal);

        // The load balancer sends to both gateways on their port; Prometheus scrapes services that exist on their ports.
        var nginx = File.ReadAllText(Path.Combine(Deploy, "nginx", "nginx.conf"));
        var servers = NginxServer().Matches(nginx).Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.Equal([("gateway-1", 8080), ("gateway-2", 8080)], servers);
        var prometheus = Single(Path.Combine(Deploy, "prometheus", "prometheus.yml"));
        var targets = Sequence(Map(prometheus), "scrape_configs").SelectMany(job => Sequence((YamlMappingNode)Sequence((YamlMappingNode)job, "static_configs").Single(), "targets")).Select(Scalar).ToList();
        Assert.NotEmpty(targets);
        foreach (var target in targets)
        {
            var (host, port) = (target!.Split(':')[0], int.Parse(target.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
            var env = Environment(Map(services, host));
            Assert.Equal(Port(env.GetValueOrDefault("Urls") ?? env["Backend__Urls"]), port);
        }

        // Grafana: its data source is the Prometheus service, its dashboard the one in deploy/grafana.
        var datasource = (YamlMappingNode)Sequence(Map(Single(Path.Combine(Deploy, "grafana", "provisioning", "datasources", "prometheus.yaml"))), "datasources").Single();
        Assert.Equal($"http://prometheus:{Port(Scalar(Sequence(Map(services, "prometheus"), "ports").Single())!.Split(':')[1])}", Scalar(datasource, "url"));
        Assert.True(File.Exists(Path.Combine(Deploy, "grafana", "longcontext-gateway.json")));
    }

    [Fact]
    public void ComposeCpuOverride_BuildsTheBackendForCpus_AndReservesNoGpu()
    {
        var services = Map(Single(Path.Combine(Deploy, "compose.yaml")), "services");
        var cpu = Map(Single(Path.Combine(Deploy, "compose.cpu.yaml")), "services");
        Assert.All(cpu.Children.Keys.Select(Scalar), name => Assert.True(services.Children.ContainsKey(name!), $"compose.cpu.yaml overrides {name}, which compose.yaml lacks"));
        var backend = Map(cpu, "backend");
        Assert.Equal("cpu", Scalar(Map(Map(backend, "build"), "args"), "LIBTORCH"));
        Assert.Equal("cpu", Environment(backend)["Backend__Options__Device"]);
        Assert.Equal("!reset", backend.Children[new YamlScalarNode("deploy")].Tag.Value);
        Assert.All(Environment(backend).Keys, key => Assert.True(SettingsKeys.Exists(key), key));
    }

    [Theory]
    [InlineData("gateway", 8080)]
    [InlineData("backend", 8081)]
    public void Dockerfiles_AreMultiStage_NonRoot_AndCheckTheirOwnHealth(string image, int port)
    {
        var text = File.ReadAllText(Path.Combine(Deploy, image, "Dockerfile"));
        var lines = text.Split('\n').Select(l => l.Trim()).ToList();
        Assert.True(lines.Count(l => l.StartsWith("FROM ", StringComparison.Ordinal)) >= 2, "a build stage and a runtime stage");
        var user = lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))[5..].Trim();
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        Assert.Contains($"EXPOSE {port}", lines);
        Assert.Contains(lines, l => l.StartsWith("HEALTHCHECK", StringComparison.Ordinal));
        Assert.Contains($"\"probe\", \"http://127.0.0.1:{port}/healthz\"", text, StringComparison.Ordinal);
        var published = PublishedProject().Match(text);
        Assert.True(published.Success && File.Exists(Path.Combine(Root, published.Groups[1].Value)), "dotnet publish names a project that exists");

        // The commands the images run are the gateway binary's own.
        var program = File.ReadAllText(Path.Combine(Root, "src", "LongContext.Gateway", "Program.cs"));
        Assert.Contains("[\"probe\",", program, StringComparison.Ordinal);
        if (image == "backend")
        {
            Assert.Contains("[\"serve-backend\",", program, StringComparison.Ordinal);
            Assert.Contains("ENTRYPOINT [\"/app/LongContext.Gateway\", \"serve-backend\"]", lines);
            // Every LIBTORCH value has its base stage, and the project knows the property.
            Assert.Contains("FROM base-${LIBTORCH}", lines);
            Assert.Contains(lines, l => l.StartsWith("FROM ", StringComparison.Ordinal) && l.EndsWith(" AS base-cuda", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("FROM ", StringComparison.Ordinal) && l.EndsWith(" AS base-cpu", StringComparison.Ordinal));
            Assert.Contains("'$(LibTorch)' == 'cuda'", File.ReadAllText(Path.Combine(Root, "src", "LongContext.Attention", "LongContext.Attention.csproj")), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ProbeCommand_ExitsNonZero_ForAnAddressThatDoesNotAnswer_AndForBadArguments()
    {
        using var error = new StringWriter();
        Assert.Equal(2, await Health.ProbeCommand.RunAsync([], error));
        Assert.Equal(1, await Health.ProbeCommand.RunAsync([$"http://127.0.0.1:{UpstreamFailureTests.UnusedPort()}/healthz"], error));
    }

    [Fact]
    public void Kubernetes_ManifestsReferOnlyToWhatExists()
    {
        var directory = Path.Combine(Deploy, "kubernetes");
        var kustomization = Map(Single(Path.Combine(directory, "kustomization.yaml")));
        var documents = Sequence(kustomization, "resources").Select(Scalar).SelectMany(file =>
        {
            Assert.True(File.Exists(Path.Combine(directory, file!)), $"kustomization lists {file}, which does not exist");
            return Load(Path.Combine(directory, file!)).Select(d => (YamlMappingNode)d.RootNode);
        }).ToList();
        Assert.Equal(Directory.GetFiles(directory, "*.yaml").Length - 1, Sequence(kustomization, "resources").Count());
        foreach (var document in documents)
        {
            Assert.NotNull(Scalar(document, "apiVersion"));
            Assert.NotNull(Scalar(Map(document, "metadata"), "name"));
        }

        var byKind = documents.ToLookup(d => Scalar(d, "kind")!);
        string Name(YamlMappingNode d) => Scalar(Map(d, "metadata"), "name")!;
        var configMaps = byKind["ConfigMap"].ToDictionary(Name, d => Map(d, "data"));
        var secrets = byKind["Secret"].ToDictionary(Name, d => Map(d, "stringData"));
        var workloads = byKind["Deployment"].Concat(byKind["StatefulSet"]).ToDictionary(Name);
        var kustomizedImages = Sequence(kustomization, "images").Select(i => Scalar((YamlMappingNode)i, "name")).ToHashSet();
        Assert.Contains("Deployment", byKind.Select(g => g.Key));
        Assert.Contains("HorizontalPodAutoscaler", byKind.Select(g => g.Key));
        Assert.Contains("qdrant", workloads.Keys);

        foreach (var (name, workload) in workloads)
        {
            var template = Map(Map(workload, "spec"), "template");
            var labels = Labels(Map(Map(template, "metadata"), "labels"));
            Assert.All(Labels(Map(Map(Map(workload, "spec"), "selector"), "matchLabels")), l => Assert.Contains(l, labels));
            var pod = Map(template, "spec");
            var volumes = Sequence(pod, "volumes").Cast<YamlMappingNode>().ToDictionary(v => Scalar(v, "name")!);
            foreach (var container in Sequence(pod, "containers").Cast<YamlMappingNode>())
            {
                var image = Scalar(container, "image")!;
                Assert.True(kustomizedImages.Contains(image) || PinnedImage().IsMatch(image), $"{name}: image {image} is neither built here nor pinned");
                var ports = Sequence(container, "ports").Cast<YamlMappingNode>().Select(p => int.Parse(Scalar(p, "containerPort")!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
                foreach (var env in Sequence(container, "env").Cast<YamlMappingNode>())
                {
                    var key = Scalar(env, "name")!;
                    if (image.StartsWith("longcontext-", StringComparison.Ordinal))
                    {
                        Assert.True(SettingsKeys.Exists(key), $"{name}: {key} is not a configuration key of the gateway");
                    }

                    if (key is "Urls" or "Backend__Urls")
                    {
                        Assert.Contains(Port(Scalar(env, "value")!), ports);
                    }

                    if (env.Children.ContainsKey("valueFrom"))
                    {
                        var from = Map(env, "valueFrom");
                        var secret = Map(from, "secretKeyRef");
                        Assert.True(secrets.TryGetValue(Scalar(secret, "name")!, out var data) && data.Children.ContainsKey(Scalar(secret, "key")!), $"{name}: {key} reads a Secret key that does not exist");
                    }
                }

                foreach (var mount in Sequence(container, "volumeMounts").Cast<YamlMappingNode>())
                {
                    var volumeName = Scalar(mount, "name")!;
                    if (!volumes.TryGetValue(volumeName, out var volume))
                    {
                        var claims = Sequence(Map(workload, "spec"), "volumeClaimTemplates").Cast<YamlMappingNode>().Select(c => Scalar(Map(c, "metadata"), "name"));
                        Assert.True(claims.Contains(volumeName), $"{name} mounts {volumeName}, which is neither a volume nor a volume claim template");
                        continue;
                    }

                    var subPath = Scalar(mount, "subPath");
                    if (volume.Children.ContainsKey("configMap"))
                    {
                        var map = configMaps[Scalar(Map(volume, "configMap"), "name")!];
                        Assert.True(subPath is null || map.Children.ContainsKey(subPath), $"{name}: ConfigMap has no {subPath}");
                    }
                    else if (volume.Children.ContainsKey("secret"))
                    {
                        var secret = secrets[Scalar(Map(volume, "secret"), "secretName")!];
                        Assert.True(subPath is null || secret.Children.ContainsKey(subPath), $"{name}: Secret has no {subPath}");
                    }

                    // A file mounted over the image's config/ replaces one the settings file includes.
                    var path = Scalar(mount, "mountPath")!;
                    if (path.StartsWith("/app/config/", StringComparison.Ordinal))
                    {
                        Assert.Contains(path["/app/".Length..], File.ReadAllText(Path.Combine(Root, "appsettings.json")), StringComparison.Ordinal);
                    }
                }
            }
        }

        foreach (var service in byKind["Service"])
        {
            var selector = Labels(Map(Map(service, "spec"), "selector"));
            var target = workloads.Values.SingleOrDefault(w => selector.All(Labels(Map(Map(Map(Map(w, "spec"), "template"), "metadata"), "labels")).Contains));
            Assert.True(target is not null, $"Service {Name(service)} selects no workload");
            var containerPorts = Sequence(Map(Map(Map(target!, "spec"), "template"), "spec"), "containers").Cast<YamlMappingNode>()
                .SelectMany(c => Sequence(c, "ports").Cast<YamlMappingNode>()).Select(p => Scalar(p, "containerPort")).ToHashSet();
            Assert.All(Sequence(Map(service, "spec"), "ports").Cast<YamlMappingNode>(), p => Assert.Contains(Scalar(p, "targetPort"), containerPorts));
        }

        var hpa = byKind["HorizontalPodAutoscaler"].Single();
        Assert.Equal("Deployment", Scalar(Map(Map(hpa, "spec"), "scaleTargetRef"), "kind"));
        Assert.Contains(Scalar(Map(Map(hpa, "spec"), "scaleTargetRef"), "name")!, byKind["Deployment"].Select(Name));

        // The backend: a GPU and a GPU node.
        var backendPod = Map(Map(Map(workloads["backend"], "spec"), "template"), "spec");
        Assert.Equal("1", Scalar(Map(Map((YamlMappingNode)Sequence(backendPod, "containers").Single(), "resources"), "limits"), "nvidia.com/gpu"));
        Assert.NotEmpty(Map(backendPod, "nodeSelector").Children);

        // config/ as ConfigMaps: the payloads are gateway settings, every upstream a model names is
        // there, and the self-hosted upstream is the backend Service on its port.
        foreach (var (file, payload) in configMaps["lcg-config"].Children.Select(c => (Scalar(c.Key)!, Scalar(c.Value)!)).Concat(secrets["lcg-tenants"].Children.Select(c => (Scalar(c.Key)!, Scalar(c.Value)!))))
        {
            Assert.True(File.Exists(Path.Combine(Root, "config", file)), $"{file} replaces no file of config/");
            foreach (var key in LeafKeys(JsonNode.Parse(payload)!, ""))
            {
                Assert.True(SettingsKeys.Exists(key), $"{file}: {key} is not a configuration key of the gateway");
            }
        }

        var deployedUpstreams = JsonNode.Parse(Scalar(configMaps["lcg-config"].Children[new YamlScalarNode("upstreams.json")])!)!["Upstreams"]!.AsObject();
        var models = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "config", "models.json")))!["Models"]!.AsObject();
        Assert.All(models.Select(m => (string)m.Value!["Upstream"]!).Distinct(), upstream => Assert.True(deployedUpstreams.ContainsKey(upstream), $"models.json names upstream {upstream}, missing from the ConfigMap"));
        var selfHosted = new Uri((string)deployedUpstreams["self-hosted"]!["Destinations"]!.AsObject().Single().Value!["Address"]!);
        var backendService = byKind["Service"].Single(s => Name(s) == selfHosted.Host);
        Assert.Contains(selfHosted.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), Sequence(Map(backendService, "spec"), "ports").Cast<YamlMappingNode>().Select(p => Scalar(p, "port")));
    }

    [Theory]
    [InlineData("Ledger__PostgresConnectionString", true)]
    [InlineData("Upstreams__self-hosted__Destinations__local__Address", true)]
    [InlineData("Tenants__acme__ApiKeyHashes__0", true)]
    [InlineData("Backend__Options__Device", true)]
    [InlineData("Gateway__AdminKeyHashes__0", true)]
    [InlineData("Ledger__PostgresConnection", false)]
    [InlineData("Backend__Options__Devices", false)]
    [InlineData("Tenants__acme__ApiKeyHashes__first", false)]
    [InlineData("Nothing__At__All", false)]
    public void SettingsKeys_KnowTheGatewaysConfiguration(string key, bool exists) => Assert.Equal(exists, SettingsKeys.Exists(key));

    private static IEnumerable<string> LeafKeys(JsonNode node, string prefix) => node switch
    {
        JsonObject o => o.SelectMany(p => LeafKeys(p.Value!, prefix.Length == 0 ? p.Key : $"{prefix}:{p.Key}")),
        JsonArray a => a.SelectMany((item, i) => LeafKeys(item!, $"{prefix}:{i}")),
        _ => [prefix],
    };

    private static int Port(string url) =>
        url.Contains("://", StringComparison.Ordinal) ? new Uri(url).Port : int.Parse(url, System.Globalization.CultureInfo.InvariantCulture);

    private static int ServicePort(YamlMappingNode services, string service, int port)
    {
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), Sequence(Map(services, service), "expose").Select(Scalar));
        return port;
    }

    private static HashSet<(string, string)> Labels(YamlMappingNode labels) =>
        labels.Children.Select(c => (Scalar(c.Key)!, Scalar(c.Value)!)).ToHashSet();

    private static Dictionary<string, string> Environment(YamlMappingNode service) =>
        service.Children.TryGetValue(new YamlScalarNode("environment"), out var env) && env is YamlMappingNode map
            ? map.Children.ToDictionary(c => Scalar(c.Key)!, c => Scalar(c.Value)!)
            : [];

    private static List<YamlDocument> Load(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return [.. stream.Documents];
    }

    private static YamlNode Single(string path) => Load(path).Single().RootNode;

    private static YamlMappingNode Map(YamlNode node) => (YamlMappingNode)node;

    private static YamlMappingNode Map(YamlNode node, string key) =>
        ((YamlMappingNode)node).Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlMappingNode map
            ? map
            : throw new Xunit.Sdk.XunitException($"no mapping '{key}'");

    private static IEnumerable<YamlNode> Sequence(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlSequenceNode sequence ? sequence.Children : [];

    private static string? Scalar(YamlNode node) => (node as YamlScalarNode)?.Value;

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? Scalar(child) : null;

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LongContext.Gateway.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (LongContext.Gateway.sln) is not above the test binaries.");
    }

    /// <summary>A third-party image with an explicit version tag (not latest).</summary>
    [GeneratedRegex(@"^[a-z0-9./-]+:(?!latest$)[A-Za-z0-9._-]+$")]
    private static partial Regex PinnedImage();

    [GeneratedRegex(@"server\s+([a-z0-9-]+):(\d+)")]
    private static partial Regex NginxServer();

    [GeneratedRegex(@"dotnet publish (\S+\.csproj)")]
    private static partial Regex PublishedProject();

    /// <summary>
    /// Whether a configuration key (colon or double-underscore separated) names a setting the
    /// gateway reads: a property path through <see cref="GatewaySettings"/> or the backend's
    /// section, with any name under a dictionary and a number under a list.
    /// </summary>
    private static class SettingsKeys
    {
        private static readonly Dictionary<string, Type?> Roots = new(StringComparer.OrdinalIgnoreCase)
        {
            ["Urls"] = typeof(string),
            ["Logging"] = null, // free-form (Microsoft.Extensions.Logging)
            [SelfHostedBackendSettings.Section] = typeof(SelfHostedBackendSettings),
        };

        public static bool Exists(string key)
        {
            var parts = key.Split(["__", ":"], StringSplitOptions.None);
            Type? type;
            if (Roots.TryGetValue(parts[0], out var root))
            {
                type = root;
                if (type is null)
                {
                    return true;
                }
            }
            else
            {
                type = Property(typeof(GatewaySettings), parts[0]);
            }

            for (var i = 1; i < parts.Length && type is not null; i++)
            {
                type = Step(type, parts[i]);
            }

            return type is not null && (parts.Length > 1 || IsLeaf(type) || Roots.ContainsKey(parts[0]) || type == typeof(GatewaySettings));
        }

        private static Type? Step(Type type, string part)
        {
            if (IsLeaf(type))
            {
                return null;
            }

            if (Interface(type, typeof(IDictionary<,>)) is { } dictionary)
            {
                return dictionary.GetGenericArguments()[1];
            }

            if (type.IsArray || (type != typeof(string) && Interface(type, typeof(IEnumerable<>)) is not null && typeof(IEnumerable).IsAssignableFrom(type)))
            {
                var element = type.IsArray ? type.GetElementType()! : Interface(type, typeof(IEnumerable<>))!.GetGenericArguments()[0];
                return int.TryParse(part, out _) ? element : null;
            }

            return Property(type, part);
        }

        private static Type? Property(Type type, string name)
        {
            var property = type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            return property is null ? null : Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        }

        private static Type? Interface(Type type, Type generic) =>
            type.IsGenericType && type.GetGenericTypeDefinition() == generic ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == generic);

        private static bool IsLeaf(Type type) =>
            type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri) || type == typeof(DateTimeOffset);
    }
}
