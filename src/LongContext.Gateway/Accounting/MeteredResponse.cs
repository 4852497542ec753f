namespace LongContext.Gateway.Accounting;

/// <summary>
/// The client's response body behind a <see cref="UsageMeteringStream"/> for as long as a
/// reservation is open. Disposing it puts the body back and, when the request ended without being
/// settled (an exception mid-request), settles the reservation: committed at what the answer may
/// have cost once any byte of it went out (the upstream was paid), released when none did.
/// </summary>
internal sealed class MeteredResponse : IAsyncDisposable
{
    private readonly HttpResponse _response;
    private readonly Stream _original;
    private readonly decimal _spentIfAnswered;
    private readonly Func<decimal?, Task> _settle;
    private bool _settled;

    /// <summary>Puts the meter in front of <paramref name="response"/>'s body.</summary>
    /// <param name="response">The client's response.</param>
    /// <param name="dropUsageOnlyChunk">Whether the usage-only stream chunk the gateway asked for is kept from the client.</param>
    /// <param name="spentIfAnswered">What is committed when the request ends unsettled after part of the answer went out.</param>
    /// <param name="settle">Commits the amount it is given, or releases the reservation for null.</param>
    public MeteredResponse(HttpResponse response, bool dropUsageOnlyChunk, decimal spentIfAnswered, Func<decimal?, Task> settle)
    {
        _response = response;
        _original = response.Body;
        _spentIfAnswered = spentIfAnswered;
        _settle = settle;
        Meter = new UsageMeteringStream(_original, response, dropUsageOnlyChunk);
        response.Body = Meter;
    }

    public UsageMeteringStream Meter { get; }

    /// <summary>The reservation was settled (or handed on): nothing is left to do at the end.</summary>
    public void MarkSettled() => _settled = true;

    public async ValueTask DisposeAsync()
    {
        _response.Body = _original;
        if (!_settled)
        {
            _settled = true;
            await _settle(Meter.Wrote ? _spentIfAnswered : null);
        }
    }
}
