using LongContext.Rag.Chunking;
using LongContext.Routing.Tokens;

namespace LongContext.Rag.Tests;

public sealed class ChunkerTests
{
    private static readonly ITokenCounter O200k = TokenCounters.Shared.Get(TokenCounters.O200kBase);

    [Fact]
    public void Chunks_NeverExceedTheLimit_KeepOffsets_AndCoverTheText()
    {
        var text = Haystack.Filler(new Random(7), paragraphs: 60);
        var chunker = new TextChunker(O200k, new ChunkingOptions { ChunkTokens = 100, OverlapTokens = 20 });

        var chunks = chunker.Chunk(text);

        Assert.True(chunks.Count > 10);
        Assert.All(chunks, c =>
        {
            Assert.InRange(c.Tokens, 1, 100);
            Assert.Equal(text[c.Start..c.End], c.Text);
            Assert.Equal(O200k.Count(c.Text), c.Tokens);
        });

        // Every non-blank character is in some chunk, and chunks move forward.
        var covered = new bool[text.Length];
        foreach (var c in chunks)
        {
            Array.Fill(covered, true, c.Start, c.End - c.Start);
        }

        Assert.All(Enumerable.Range(0, text.Length).Where(i => !char.IsWhiteSpace(text[i])), i => Assert.True(covered[i], $"character {i} is in no chunk"));
        Assert.True(chunks.Zip(chunks.Skip(1)).All(p => p.Second.Start > p.First.Start));
    }

    [Fact]
    public void Chunks_EndAtParagraphOrSentenceBoundaries()
    {
        var text = Haystack.Filler(new Random(11), paragraphs: 40);
        var chunks = new TextChunker(O200k, new ChunkingOptions { ChunkTokens = 120, OverlapTokens = 0 }).Chunk(text);

        // Filler sentences are far shorter than a chunk, so no chunk needs a cut inside a sentence.
        Assert.All(chunks, c => Assert.True(c.Text.EndsWith('.'), $"chunk {c.Ordinal} ends mid-sentence: …{c.Text[^20..]}"));
    }

    [Fact]
    public void Overlap_RepeatsTheTailOfThePreviousChunk()
    {
        var text = Haystack.Filler(new Random(3), paragraphs: 30);
        var chunks = new TextChunker(O200k, new ChunkingOptions { ChunkTokens = 120, OverlapTokens = 40 }).Chunk(text);

        var overlapping = chunks.Zip(chunks.Skip(1)).Count(p => p.Second.Start < p.First.End);
        Assert.True(overlapping >= chunks.Count / 2, $"{overlapping} of {chunks.Count - 1} neighbours overlap");
    }

    [Fact]
    public void OneHugeSentence_IsCutBetweenWords()
    {
        var text = string.Join(' ', Enumerable.Repeat("word", 1_000));
        var chunks = new TextChunker(O200k, new ChunkingOptions { ChunkTokens = 64, OverlapTokens = 0 }).Chunk(text);

        Assert.All(chunks, c => Assert.InRange(c.Tokens, 1, 64));
        Assert.All(chunks, c => Assert.DoesNotContain("  ", c.Text, StringComparison.Ordinal));
        Assert.Equal(1_000, chunks.Sum(c => c.Text.Split(' ').Length));
    }
}
