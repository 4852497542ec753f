using System.Runtime.InteropServices;
using System.Security.Cryptography;
using LongContext.Gateway.Api;
using LongContext.Routing.Tokens;

namespace LongContext.Gateway.Routing;

/// <summary>
/// Counts a chat request's tokens with the model's tokenizer. Long texts (documents, pasted
/// context, a conversation's history that every turn re-sends) are counted once and then looked
/// up by content hash.
/// </summary>
internal sealed class RequestMeasurer
{
    /// <summary>OpenAI's chat format frames each message with 3 tokens and primes the reply with 3 (OpenAI cookbook, "How to count tokens with tiktoken").</summary>
    private const int TokensPerMessage = 3;
    private const int ReplyPrimingTokens = 3;

    /// <summary>Below this many characters counting is cheaper than hashing.</summary>
    private const int CacheFromCharacters = 2048;

    private readonly TokenCountCache _cache = new();

    public (long Question, long Context) Measure(ChatCompletionRequest request, ITokenCounter counter)
    {
        long question = ReplyPrimingTokens + (long)TokensPerMessage * request.MessageCount;
        foreach (var text in request.MessageTexts())
        {
            question += Count(counter, text);
        }

        long context = 0;
        if (request.Documents.Count > 0)
        {
            context += TokensPerMessage + Count(counter, InlineContext.Preamble);
            foreach (var document in request.Documents)
            {
                context += Count(counter, InlineContext.Format(document));
            }
        }

        return (question, context);
    }

    private int Count(ITokenCounter counter, string text) =>
        text.Length < CacheFromCharacters ? counter.Count(text) : _cache.GetOrCount(counter, Hash(text), text);

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(text.AsSpan())));
}

/// <summary>How inline documents are put in front of the conversation on the long-context route.</summary>
internal static class InlineContext
{
    public const string Preamble = "Answer from the documents below. Each is enclosed in <document> tags.\n\n";

    public static string Format(InlineDocument document) => $"<document id=\"{document.Id}\">\n{document.Text}\n</document>\n";

    public static string SystemMessage(IEnumerable<InlineDocument> documents) => Preamble + string.Concat(documents.Select(Format));
}
