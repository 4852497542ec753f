namespace LongContext.Gateway.Health;

/// <summary>
/// <c>probe URL</c>: exit 0 when URL answers 2xx within 5 seconds, else 1 — the containers' health
/// check, since the runtime images carry no curl.
/// </summary>
internal static class ProbeCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter error)
    {
        if (args is not [var url] || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            await error.WriteLineAsync("usage: probe http://HOST:PORT/PATH");
            return 2;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(uri);
            if (response.IsSuccessStatusCode)
            {
                return 0;
            }

            await error.WriteLineAsync($"{uri} answered HTTP {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            await error.WriteLineAsync($"{uri} did not answer: {e.Message}");
        }

        return 1;
    }
}
