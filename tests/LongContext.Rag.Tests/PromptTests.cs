using LongContext.Rag.Positioning;
using LongContext.Rag.Prompting;
using LongContext.Rag.VectorStores;

namespace LongContext.Rag.Tests;

public sealed class PromptTests
{
    private static StoredChunk Chunk(long key, string document, int ordinal, int start, int end, string text) => new(key, document, document + ".txt", ordinal, start, end, 10, text);

    [Fact]
    public void RagPrompt_NumbersSources_AndCanRepeatTheQuestionAroundThem()
    {
        var positioned = EdgePositioner.Position([Chunk(1, "a", 0, 0, 20, "Best chunk."), Chunk(2, "b", 3, 50, 80, "Second chunk.")], c => c.Tokens);

        var prompt = ContextPrompt.Build(positioned, question: "What is best?");

        Assert.StartsWith(ContextPrompt.Instructions, prompt, StringComparison.Ordinal);
        Assert.Contains("[1] a.txt (characters 0-20)\nBest chunk.", prompt, StringComparison.Ordinal);
        Assert.Contains("[2] b.txt (characters 50-80)\nSecond chunk.", prompt, StringComparison.Ordinal);
        Assert.True(prompt.IndexOf("Question: What is best?", StringComparison.Ordinal) < prompt.IndexOf("[1]", StringComparison.Ordinal));
        Assert.EndsWith("Question again: What is best?\n", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void CorpusPrompt_SendsOverlapOnce_AndKeyChunksAtTheEnds()
    {
        // Document text "Alpha beta. Gamma delta. Epsilon zeta." cut into overlapping chunks.
        var c0 = Chunk(10, "d", 0, 0, 24, "Alpha beta. Gamma delta.");
        var c1 = Chunk(11, "d", 1, 12, 38, "Gamma delta. Epsilon zeta.");
        var key = Chunk(20, "k", 0, 0, 9, "Key fact.");
        var positioned = EdgePositioner.PositionCorpus([key, c0, c1], [key], c => c.Tokens);

        var prompt = ContextPrompt.BuildCorpus(positioned);

        Assert.Contains("[1] k.txt (characters 0-9)\nKey fact.", prompt, StringComparison.Ordinal);
        Assert.Contains("[2] d.txt (from character 0)\nAlpha beta. Gamma delta. Epsilon zeta.", prompt, StringComparison.Ordinal);
        Assert.Equal(1, prompt.Split("Gamma delta.").Length - 1);
    }
}
