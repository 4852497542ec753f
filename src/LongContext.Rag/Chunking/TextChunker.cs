using System.Text.RegularExpressions;
using LongContext.Routing.Tokens;

namespace LongContext.Rag.Chunking;

/// <summary>How documents are cut into chunks.</summary>
public sealed record ChunkingOptions
{
    /// <summary>Most tokens in one chunk, counted with the corpus's tokenizer.</summary>
    public int ChunkTokens { get; init; } = 512;

    /// <summary>Tokens of the previous chunk repeated at the start of the next, so a fact cut at a boundary survives whole in one of them.</summary>
    public int OverlapTokens { get; init; } = 64;
}

/// <summary>A piece of a document: where it is in the original text, and how many tokens it holds.</summary>
public sealed record TextChunk(int Ordinal, int Start, int End, int Tokens, string Text);

/// <summary>
/// Token-aware chunking that cuts where a reader would: at a paragraph's end when one falls in
/// the second half of the chunk, else between sentences, between words only inside a sentence
/// longer than a chunk. Overlap repeats whole sentences. Chunks are
/// slices of the original text (offsets kept), never longer than the token limit.
/// </summary>
public sealed partial class TextChunker
{
    private readonly ITokenCounter _counter;
    private readonly ChunkingOptions _options;

    public TextChunker(ITokenCounter counter, ChunkingOptions options)
    {
        if (options.ChunkTokens < 1 || options.OverlapTokens < 0 || options.OverlapTokens >= options.ChunkTokens)
        {
            throw new ArgumentException("ChunkTokens must be positive and OverlapTokens in [0, ChunkTokens).", nameof(options));
        }

        (_counter, _options) = (counter, options);
    }

    public ITokenCounter Counter => _counter;

    public IReadOnlyList<TextChunk> Chunk(string text)
    {
        // Units are sentences (or word runs of an over-long sentence), each knowing whether a paragraph ends with it.
        var units = new List<Unit>();
        foreach (var paragraph in Spans(text, ParagraphBreak(), 0, text.Length))
        {
            foreach (var sentence in Spans(text, SentenceEnd(), paragraph.Start, paragraph.End))
            {
                Split(text, sentence, units);
            }

            units[^1] = units[^1] with { EndsParagraph = true };
        }

        var chunks = new List<TextChunk>();
        var start = 0;
        while (start < units.Count)
        {
            var end = start;
            var tokens = 0;
            while (end < units.Count && (end == start || tokens + units[end].Tokens <= _options.ChunkTokens))
            {
                tokens += units[end].Tokens;
                end++;
            }

            // Prefer to end at a paragraph when one ends in the second half of the chunk.
            if (end < units.Count && !units[end - 1].EndsParagraph)
            {
                var filled = tokens;
                for (var i = end - 1; i > start; i--)
                {
                    filled -= units[i].Tokens;
                    if (filled < _options.ChunkTokens / 2)
                    {
                        break;
                    }

                    if (units[i - 1].EndsParagraph)
                    {
                        end = i;
                        break;
                    }
                }
            }

            // Unit counts are summed; the slice's own count can differ a little at the seams: trim until it fits.
            var (from, to) = (units[start].Start, units[end - 1].End);
            var count = _counter.Count(text[from..to]);
            while (count > _options.ChunkTokens && end - start > 1)
            {
                end--;
                to = units[end - 1].End;
                count = _counter.Count(text[from..to]);
            }

            chunks.Add(new TextChunk(chunks.Count, from, to, count, text[from..to]));
            if (end >= units.Count)
            {
                break;
            }

            // The next chunk starts early enough to repeat up to OverlapTokens of this one's tail, and always moves forward.
            var next = end;
            var overlap = 0;
            while (next - 1 > start && overlap + units[next - 1].Tokens <= _options.OverlapTokens)
            {
                next--;
                overlap += units[next].Tokens;
            }

            start = next;
        }

        return chunks;
    }

    /// <summary>Adds a sentence as one unit, or as runs of words when it alone is longer than a chunk.</summary>
    private void Split(string text, (int Start, int End) span, List<Unit> units)
    {
        var tokens = _counter.Count(text[span.Start..span.End]);
        if (tokens <= _options.ChunkTokens)
        {
            units.Add(new Unit(span.Start, span.End, tokens));
            return;
        }

        // One sentence longer than a chunk: cut between words, greedily.
        var words = Spans(text, Whitespace(), span.Start, span.End);
        var from = 0;
        while (from < words.Count)
        {
            var to = from + 1;
            var count = _counter.Count(text[words[from].Start..words[from].End]);
            while (to < words.Count)
            {
                var wider = _counter.Count(text[words[from].Start..words[to].End]);
                if (wider > _options.ChunkTokens)
                {
                    break;
                }

                count = wider;
                to++;
            }

            units.Add(new Unit(words[from].Start, words[to - 1].End, count));
            from = to;
        }
    }

    /// <summary>Non-blank spans of text[start..end] between matches of the separator, trimmed of whitespace.</summary>
    private static List<(int Start, int End)> Spans(string text, Regex separator, int start, int end)
    {
        var spans = new List<(int, int)>();
        var position = start;
        foreach (var match in separator.EnumerateMatches(text.AsSpan(start, end - start)))
        {
            if (Trimmed(text, position, start + match.Index) is { } piece)
            {
                spans.Add(piece);
            }

            position = start + match.Index + match.Length;
        }

        if (Trimmed(text, position, end) is { } last)
        {
            spans.Add(last);
        }

        return spans;
    }

    private static (int, int)? Trimmed(string text, int start, int end)
    {
        while (start < end && char.IsWhiteSpace(text[start]))
        {
            start++;
        }

        while (end > start && char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }

        return end > start ? (start, end) : null;
    }

    [GeneratedRegex(@"\n[ \t]*\n\s*")]
    private static partial Regex ParagraphBreak();

    /// <summary>A sentence ends at . ! or ? (with closing quotes or brackets) followed by whitespace.</summary>
    [GeneratedRegex(@"(?<=[.!?][""'”’)\]]*)\s+")]
    private static partial Regex SentenceEnd();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    private readonly record struct Unit(int Start, int End, int Tokens, bool EndsParagraph = false);
}
