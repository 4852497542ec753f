using LongContext.Routing.Tokens;

namespace LongContext.Routing.Tests;

public sealed class TokenCounterTests
{
    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void KnownTokenizer_CountsRealTokens(string name)
    {
        var counter = TokenCounters.Shared.Get(name);

        Assert.False(counter.IsApproximation);
        Assert.Equal(2, counter.Count("hello world"));
        Assert.Equal(0, counter.Count(""));
    }

    [Fact]
    public void Tokenizers_Differ_OnTheSameText()
    {
        // o200k_base has a larger vocabulary; on non-English text it needs fewer tokens than cl100k_base.
        const string text = "Привет, как дела? Это проверка токенизатора для длинного контекста.";

        Assert.True(TokenCounters.Shared.Get("o200k_base").Count(text) < TokenCounters.Shared.Get("cl100k_base").Count(text));
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData(null)]
    [InlineData("")]
    public void UnknownTokenizer_GetsTheDeclaredApproximation(string? name)
    {
        var counter = TokenCounters.Shared.Get(name);

        Assert.True(counter.IsApproximation);
        Assert.Equal(3, counter.Count("0123456789"));
    }

    [Fact]
    public void ByteVocabulary_CountsUtf8Bytes()
    {
        var counter = TokenCounters.Shared.Get(TokenCounters.Bytes);

        Assert.False(counter.IsApproximation);
        Assert.Equal(5, counter.Count("hello"));
        Assert.Equal(2 + 3, counter.Count("é€")); // U+00E9 is 2 bytes, U+20AC is 3
    }

    [Fact]
    public void Cache_CountsEachContentOnce()
    {
        var counting = new CountingCounter();
        var cache = new TokenCountCache();

        var first = cache.GetOrCount(counting, "corpus-1/doc-7@abc", "some text");
        var second = cache.GetOrCount(counting, "corpus-1/doc-7@abc", "some text");
        cache.GetOrCount(counting, "corpus-1/doc-8@def", "other text");

        Assert.Equal(first, second);
        Assert.Equal(2, counting.Calls);
    }

    private sealed class CountingCounter : ITokenCounter
    {
        public int Calls { get; private set; }

        public string Name => "counting";

        public bool IsApproximation => false;

        public int Count(string text)
        {
            Calls++;
            return text.Length;
        }
    }
}
