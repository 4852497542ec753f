using System.Text;

namespace LongContext.Backend.Tokenization;

/// <summary>Text ↔ token ids for a model.</summary>
public interface ITextTokenizer
{
    IReadOnlyList<int> Encode(string text);

    string Decode(IEnumerable<int> ids);

    /// <summary>Ids that end generation.</summary>
    IReadOnlyList<int> EndIds { get; }

    int? BeginId { get; }
}

/// <summary>
/// The reference model's vocabulary: the 256 byte values of UTF-8, then begin (256) and end (257).
/// Nothing to learn or download, and any text is representable.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    public const int Begin = 256;
    public const int End = 257;
    public const int VocabularySize = 258;

    public IReadOnlyList<int> EndIds { get; } = [End];

    public int? BeginId => Begin;

    public IReadOnlyList<int> Encode(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => (int)b)];

    /// <summary>Bytes back to text; special ids are dropped and a sequence cut mid-character decodes with U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString([.. ids.Where(i => i is >= 0 and < 256).Select(i => (byte)i)]);
}
