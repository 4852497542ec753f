using Google.Protobuf;

namespace LongContext.Backend.Tests;

/// <summary>
/// Writes a SentencePiece BPE model file (tokenizer.model, the ModelProto protobuf) as
/// sentencepiece's trainer lays it out: control pieces, 256 byte-fallback pieces, then the
/// vocabulary with merge priority as score — so a test builds a real Llama-style tokenizer.
/// </summary>
internal static class SentencePieceModels
{
    public const int Unknown = 0;
    public const int Begin = 1;
    public const int End = 2;

    // sentencepiece_model.proto: ModelProto.pieces = 1, trainer_spec = 2, normalizer_spec = 3;
    // SentencePiece.piece = 1, score = 2, type = 3 (NORMAL 1, UNKNOWN 2, CONTROL 3, BYTE 6);
    // TrainerSpec.model_type = 3 (BPE 2), vocab_size = 4, byte_fallback = 35, unk/bos/eos/pad_id = 40–43;
    // NormalizerSpec.name = 1, add_dummy_prefix = 3, remove_extra_whitespaces = 4, escape_whitespaces = 5.
    public static void Write(string path, IReadOnlyList<string> vocabulary)
    {
        var pieces = new List<(string Piece, float Score, int Type)> { ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3) };
        pieces.AddRange(Enumerable.Range(0, 256).Select(b => ($"<0x{b:X2}>", 0f, 6)));
        pieces.AddRange(vocabulary.Select((p, i) => (p, -(float)i, 1)));

        using var file = File.Create(path);
        var output = new CodedOutputStream(file);
        foreach (var (piece, score, type) in pieces)
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(Message(m =>
            {
                m.WriteTag(1, WireFormat.WireType.LengthDelimited);
                m.WriteString(piece);
                m.WriteTag(2, WireFormat.WireType.Fixed32);
                m.WriteFloat(score);
                m.WriteTag(3, WireFormat.WireType.Varint);
                m.WriteEnum(type);
            }));
        }

        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Message(m =>
        {
            m.WriteTag(3, WireFormat.WireType.Varint);
            m.WriteEnum(2);
            m.WriteTag(4, WireFormat.WireType.Varint);
            m.WriteInt32(pieces.Count);
            m.WriteTag(35, WireFormat.WireType.Varint);
            m.WriteBool(true);
            foreach (var (field, id) in new[] { (40, Unknown), (41, Begin), (42, End), (43, -1) })
            {
                m.WriteTag(field, WireFormat.WireType.Varint);
                m.WriteInt32(id);
            }
        }));

        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Message(m =>
        {
            m.WriteTag(1, WireFormat.WireType.LengthDelimited);
            m.WriteString("identity");
            m.WriteTag(3, WireFormat.WireType.Varint);
            m.WriteBool(true);
            m.WriteTag(4, WireFormat.WireType.Varint);
            m.WriteBool(false);
            m.WriteTag(5, WireFormat.WireType.Varint);
            m.WriteBool(true);
        }));
        output.Flush();
    }

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        write(output);
        output.Flush();
        return ByteString.CopyFrom(buffer.ToArray());
    }
}
