namespace LongContext.Gateway.SelfRoute;

/// <summary>What the RAG step's reply is, as far as its text so far can tell.</summary>
internal enum MarkerVerdict
{
    /// <summary>Still a prefix of the marker (or only whitespace): hold the text back.</summary>
    Undecided,

    /// <summary>The reply is the insufficiency marker (or starts with it): escalate, show none of it.</summary>
    Marker,

    /// <summary>The reply diverged from the marker: it is an answer; release what was held.</summary>
    Answer,
}

/// <summary>
/// Holds back the start of a streamed RAG reply until it is clear whether it is the marker: an
/// answer is released at the first character that departs from the marker (usually the first
/// token), so the added time to first token is the time to read that far.
/// </summary>
internal sealed class MarkerGate(string marker)
{
    private readonly System.Text.StringBuilder _text = new();

    public MarkerVerdict Verdict { get; private set; }

    /// <summary>Everything received so far.</summary>
    public string Text => _text.ToString();

    public MarkerVerdict Add(string? delta)
    {
        _text.Append(delta);
        if (Verdict == MarkerVerdict.Undecided)
        {
            Verdict = Judge(_text.ToString(), marker, complete: false);
        }

        return Verdict;
    }

    /// <summary>The reply ended: a non-empty prefix of the marker counts as the marker (cut off by the token limit); nothing at all is an (empty) answer.</summary>
    public MarkerVerdict Complete()
    {
        if (Verdict == MarkerVerdict.Undecided)
        {
            Verdict = Judge(_text.ToString(), marker, complete: true);
        }

        return Verdict;
    }

    public static MarkerVerdict Judge(string text, string marker, bool complete)
    {
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith(marker, StringComparison.Ordinal))
        {
            return MarkerVerdict.Marker;
        }

        if (!marker.StartsWith(trimmed, StringComparison.Ordinal))
        {
            return MarkerVerdict.Answer;
        }

        // A proper prefix of the marker (possibly empty).
        return !complete ? MarkerVerdict.Undecided : trimmed.Length > 0 ? MarkerVerdict.Marker : MarkerVerdict.Answer;
    }
}
