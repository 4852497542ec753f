using System.Globalization;
using System.Text.Json;

namespace LongContext.Ledger.Decisions;

/// <summary>Counterfactual costs are stored as a JSON object of candidate id → dollars (as a decimal string, exact).</summary>
internal static class CounterfactualJson
{
    public static string Write(IReadOnlyDictionary<string, decimal> costs)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (id, cost) in costs.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                writer.WriteString(id, cost.ToString(CultureInfo.InvariantCulture));
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static Dictionary<string, decimal> Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().ToDictionary(
            p => p.Name,
            p => decimal.Parse(p.Value.GetString()!, NumberStyles.Number, CultureInfo.InvariantCulture),
            StringComparer.Ordinal);
    }
}
