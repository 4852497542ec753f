using System.Text;
using LongContext.Rag.Positioning;
using LongContext.Rag.VectorStores;

namespace LongContext.Rag.Prompting;

/// <summary>
/// The context block both routes send: numbered source markers so answers can cite them, in the
/// positioned order; optionally the question repeated before and after the sources.
/// </summary>
public static class ContextPrompt
{
    public const string Instructions = "Answer the question from the sources below. Cite the sources you use by their number, like [2]. If the sources do not contain the answer, say so.";

    public static string Build(IReadOnlyList<PositionedChunk<StoredChunk>> chunks, string? question = null)
    {
        var text = new StringBuilder(Instructions).Append("\n\n");
        if (question is not null)
        {
            text.Append("Question: ").Append(question).Append("\n\n");
        }

        for (var i = 0; i < chunks.Count; i++)
        {
            var chunk = chunks[i].Chunk;
            text.Append('[').Append(i + 1).Append("] ").Append(chunk.DocumentName)
                .Append(" (characters ").Append(chunk.Start).Append('-').Append(chunk.End).Append(")\n")
                .Append(chunk.Text).Append("\n\n");
        }

        if (question is not null)
        {
            text.Append("Question again: ").Append(question).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>
    /// The whole corpus: key chunks (rank > 0) with their own markers at the ends, everything else in
    /// document order in the middle, one marker per document run, neighbouring chunks' overlap sent once.
    /// </summary>
    public static string BuildCorpus(IReadOnlyList<PositionedChunk<StoredChunk>> chunks, string? question = null)
    {
        var text = new StringBuilder(Instructions).Append("\n\n");
        if (question is not null)
        {
            text.Append("Question: ").Append(question).Append("\n\n");
        }

        var marker = 0;
        StoredChunk? previous = null;
        for (var i = 0; i < chunks.Count; i++)
        {
            var positioned = chunks[i];
            var chunk = positioned.Chunk;
            if (positioned.Rank > 0)
            {
                text.Append('[').Append(++marker).Append("] ").Append(chunk.DocumentName)
                    .Append(" (characters ").Append(chunk.Start).Append('-').Append(chunk.End).Append(")\n")
                    .Append(chunk.Text).Append("\n\n");
                previous = null;
                continue;
            }

            var sameRun = previous is not null && previous.DocumentId == chunk.DocumentId && previous.Ordinal + 1 == chunk.Ordinal;
            if (!sameRun)
            {
                text.Append('[').Append(++marker).Append("] ").Append(chunk.DocumentName).Append(" (from character ").Append(chunk.Start).Append(")\n");
                text.Append(chunk.Text);
            }
            else
            {
                // Chunks overlap their predecessor by a few sentences: send only what is new.
                var skip = Math.Clamp(previous!.End - chunk.Start, 0, chunk.Text.Length);
                text.Append(skip > 0 ? chunk.Text[skip..] : " " + chunk.Text);
            }

            previous = chunk;
            if (i == chunks.Count - 1 || chunks[i + 1] is not { Rank: 0 } next || next.Chunk.DocumentId != chunk.DocumentId)
            {
                text.Append("\n\n");
            }
        }

        if (question is not null)
        {
            text.Append("Question again: ").Append(question).Append('\n');
        }

        return text.ToString();
    }
}
