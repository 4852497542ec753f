using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LongContext.Gateway.Tests.Infrastructure;

/// <summary>
/// The gateway as its own operating-system process (<c>dotnet LongContext.Gateway.dll --settings …</c>),
/// the way a deployment runs several of them: nothing shared with the test or with another
/// instance but what the configuration points at.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly System.Text.StringBuilder _output = new();

    private GatewayProcess(Process process, string directory, Uri baseAddress)
    {
        _process = process;
        _directory = directory;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>What the process wrote, for the failure message of a test.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public HttpClient CreateHttpClient(string apiKey)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        return client;
    }

    public static Task<GatewayProcess> StartAsync(GatewayConfig config)
    {
        var directory = Directory.CreateTempSubdirectory("lcg-process-").FullName;
        var settings = config.WriteTo(directory);
        var port = FreePort();
        return StartAsync(directory, port, ["--settings", settings, "--urls", $"http://127.0.0.1:{port}", "--Logging:LogLevel:Default", "Warning"]);
    }

    /// <summary>Only the self-hosted backend (<c>serve-backend</c>) on the settings the gateway ships with.</summary>
    public static Task<GatewayProcess> StartBackendAsync()
    {
        var directory = Directory.CreateTempSubdirectory("lcg-backend-").FullName;
        var port = FreePort();
        return StartAsync(directory, port, ["serve-backend", "--Backend:Urls", $"http://127.0.0.1:{port}"]);
    }

    private static async Task<GatewayProcess> StartAsync(string directory, int port, string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "LongContext.Gateway.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var instance = new GatewayProcess(process, directory, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => instance.Append(e.Data);
        process.ErrorDataReceived += (_, e) => instance.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = instance.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                var output = instance.Output;
                await instance.DisposeAsync();
                throw new InvalidOperationException($"The gateway process exited with {process.ExitCode}: {output}");
            }

            try
            {
                using var alive = await http.GetAsync("/healthz");
                if (alive.StatusCode == HttpStatusCode.OK)
                {
                    return instance;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                var output = instance.Output;
                await instance.DisposeAsync();
                throw new TimeoutException($"The gateway process did not answer /healthz within 60 s: {output}");
            }

            await Task.Delay(100);
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
