using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using static TorchSharp.torch;

namespace LongContext.Backend.Checkpoints;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorEntry(string Dtype, long[] Shape, long[] DataOffsets);

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data. Reads F32, F16 and
/// BF16 (converted to float32 on load); writes F32.
/// </summary>
public static class SafeTensors
{
    /// <summary>Headers larger than this are refused: a corrupt length would otherwise allocate gigabytes.</summary>
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    public static Dictionary<string, SafeTensorEntry> ReadHeader(string path, out long dataStart)
    {
        using var stream = File.OpenRead(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var length = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (length <= 1 || length > MaxHeaderBytes || length > stream.Length - 8)
        {
            throw new InvalidDataException($"{path}: header length {length} is not valid for a file of {stream.Length} bytes; not a safetensors file?");
        }

        var header = new byte[length];
        stream.ReadExactly(header);
        dataStart = 8 + length;
        var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(header);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                continue;
            }

            var value = property.Value;
            var entry = new SafeTensorEntry(
                value.GetProperty("dtype").GetString()!,
                [.. value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64())],
                [.. value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64())]);
            var expected = entry.Shape.Aggregate(1L, (a, b) => a * b) * ElementSize(entry.Dtype, path, property.Name);
            if (entry.DataOffsets is not [var begin, var end] || end - begin != expected || begin < 0 || dataStart + end > stream.Length)
            {
                throw new InvalidDataException($"{path}: tensor '{property.Name}' has byte range [{string.Join(", ", entry.DataOffsets)}], which does not hold its shape [{string.Join(", ", entry.Shape)}] of {entry.Dtype} inside the file.");
            }

            entries[property.Name] = entry;
        }

        return entries;
    }

    /// <summary>Loads every tensor of the file as float32 on the CPU.</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        var entries = ReadHeader(path, out var dataStart);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var stream = File.OpenRead(path);
        foreach (var (name, entry) in entries)
        {
            var bytes = new byte[entry.DataOffsets[1] - entry.DataOffsets[0]];
            stream.Position = dataStart + entry.DataOffsets[0];
            stream.ReadExactly(bytes);
            tensors[name] = tensor(ToFloat(bytes, entry.Dtype), entry.Shape);
        }

        return tensors;
    }

    /// <summary>Writes the tensors as F32 with optional string metadata; written beside and renamed, so a crash leaves no half file.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var data = new List<float[]>(ordered.Count);
        using var headerBuffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(headerBuffer))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                {
                    writer.WriteString(key, value);
                }

                writer.WriteEndObject();
            }

            long offset = 0;
            foreach (var (name, value) in ordered)
            {
                using var cpu = value.detach().to(ScalarType.Float32).cpu().contiguous();
                var values = cpu.data<float>().ToArray();
                data.Add(values);
                writer.WriteStartObject(name);
                writer.WriteString("dtype", "F32");
                writer.WriteStartArray("shape");
                foreach (var size in value.shape)
                {
                    writer.WriteNumberValue(size);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                offset += values.Length * 4L;
                writer.WriteNumberValue(offset);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        // The data starts 8-byte aligned: the header is padded with spaces, as the format allows.
        var header = headerBuffer.ToArray().Concat(Enumerable.Repeat((byte)' ', (int)((8 - (headerBuffer.Length % 8)) % 8))).ToArray();
        var temporary = path + ".tmp";
        using (var file = File.Create(temporary))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, header.Length);
            file.Write(length);
            file.Write(header);
            foreach (var values in data)
            {
                file.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            }
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static int ElementSize(string dtype, string path, string name) => dtype switch
    {
        "F32" => 4,
        "F16" or "BF16" => 2,
        _ => throw new InvalidDataException($"{path}: tensor '{name}' is {dtype}; this backend reads F32, F16 and BF16."),
    };

    private static float[] ToFloat(byte[] bytes, string dtype)
    {
        switch (dtype)
        {
            case "F32":
                return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            case "F16":
                return [.. MemoryMarshal.Cast<byte, Half>(bytes).ToArray().Select(h => (float)h)];
            default:
                var raw = MemoryMarshal.Cast<byte, ushort>(bytes);
                var result = new float[raw.Length];
                for (var i = 0; i < raw.Length; i++)
                {
                    // bfloat16 is the top half of a float32.
                    result[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                }

                return result;
        }
    }
}
