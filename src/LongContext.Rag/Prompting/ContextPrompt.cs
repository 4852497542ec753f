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
}
