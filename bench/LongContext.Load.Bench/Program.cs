// The load test's two helpers (the gateway itself runs from its own build; run.sh drives all):
//   upstream --port P   an OpenAI-compatible chat stub: a fixed small completion, or 5 SSE chunks when asked to stream;
//                       as light as Kestrel allows, so the proxies in front of it are what is measured;
//   yarp --port P --upstream URL
//                       a bare YARP reverse proxy with one route to the stub: the ceiling of any YARP-based gateway.
using System.Globalization;
using System.Text;
using Yarp.ReverseProxy.Configuration;

string Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"missing {name}");
var port = int.Parse(Option("--port"), CultureInfo.InvariantCulture);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);

switch (args.FirstOrDefault())
{
    case "upstream":
    {
        var app = builder.Build();
        var completion = Encoding.UTF8.GetBytes("""{"id":"chatcmpl-load","object":"chat.completion","created":1700000000,"model":"load-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the load stub."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}""");
        var chunks = Encoding.UTF8.GetBytes(string.Concat(
            Enumerable.Range(0, 5).Select(i => $"data: {{\"id\":\"chatcmpl-load\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"load-model\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"piece {i} \"}}}}]}}\n\n"))
            + "data: {\"id\":\"chatcmpl-load\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"load-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17}}\n\ndata: [DONE]\n\n");
        var streamMarker = "\"stream\":true"u8.ToArray();
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            // Read the body (a real upstream would) and answer from memory.
            var reader = context.Request.BodyReader;
            System.IO.Pipelines.ReadResult body;
            while (!(body = await reader.ReadAsync()).IsCompleted)
            {
                reader.AdvanceTo(body.Buffer.Start, body.Buffer.End);
            }

            var stream = System.Buffers.BuffersExtensions.ToArray(body.Buffer).AsSpan().IndexOf(streamMarker) >= 0;
            reader.AdvanceTo(body.Buffer.End);
            context.Response.ContentType = stream ? "text/event-stream" : "application/json";
            await context.Response.Body.WriteAsync(stream ? chunks : completion);
        });
        app.MapGet("/v1/models", () => Results.Text("""{"object":"list","data":[{"id":"load-model","object":"model","created":0,"owned_by":"load"}]}""", "application/json"));
        await app.RunAsync();
        return 0;
    }

    case "yarp":
    {
        var upstream = Option("--upstream");
        builder.Services.AddReverseProxy().LoadFromMemory(
            [new RouteConfig { RouteId = "chat", ClusterId = "upstream", Match = new RouteMatch { Path = "/{**rest}" } }],
            [new ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, DestinationConfig> { ["main"] = new() { Address = upstream } } }]);
        var app = builder.Build();
        app.MapReverseProxy();
        await app.RunAsync();
        return 0;
    }

    default:
        Console.Error.WriteLine("usage: upstream --port P | yarp --port P --upstream URL");
        return 2;
}
