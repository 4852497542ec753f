using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LongContext.Evaluation.Runs;

namespace LongContext.Evaluation.Reports;

/// <summary>
/// What a run leaves: one JSONL line per probe (readable by <c>calibrate</c>: length, depth, hit),
/// a summary table of recall by length × depth per route, and one heatmap (SVG) per route in the
/// style of the needle-in-a-haystack plots.
/// </summary>
public static class EvalReport
{
    public static string JsonLine(EvalResult r) => new JsonObject
    {
        ["kind"] = r.Probe.Kind,
        ["length"] = r.Probe.LengthTokens,
        ["depth"] = r.Probe.Depth,
        ["needle_depth"] = Math.Round(r.Probe.NeedleDepth, 4),
        ["seed"] = r.Probe.Seed,
        ["route"] = r.Route,
        ["candidate"] = r.Candidate,
        ["model"] = r.Model,
        ["hit"] = r.Hit,
        ["cost_usd"] = r.CostUsd,
        ["cost_source"] = r.CostSource,
        ["seconds"] = Math.Round(r.Seconds, 3),
        ["decision_id"] = r.DecisionId,
        ["error"] = r.Error,
        ["reply"] = r.Reply,
    }.ToJsonString();

    /// <summary>Recall by length (rows) × depth (columns), one table per route, plus cost and counts.</summary>
    public static string Summary(IReadOnlyList<EvalResult> results)
    {
        var text = new StringBuilder();
        foreach (var route in results.GroupBy(r => r.Route ?? "refused").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var depths = route.Select(r => r.Probe.Depth).Distinct().Order().ToList();
            text.Append(CultureInfo.InvariantCulture, $"route {route.Key}: recall {Recall(route):P0} over {route.Count()} probes, cost ${route.Sum(r => r.CostUsd ?? 0):0.######} ({string.Join(", ", route.Select(r => r.CostSource).Distinct())})\n\n");
            text.Append("| length \\ depth | ").Append(string.Join(" | ", depths.Select(d => d.ToString("P0", CultureInfo.InvariantCulture)))).Append(" | all |\n");
            text.Append("|---|").Append(string.Concat(depths.Select(_ => "---|"))).Append("---|\n");
            foreach (var length in route.GroupBy(r => r.Probe.LengthTokens).OrderBy(g => g.Key))
            {
                text.Append(CultureInfo.InvariantCulture, $"| {length.Key:N0} | ");
                text.Append(string.Join(" | ", depths.Select(d => length.Where(r => r.Probe.Depth == d).ToList() is { Count: > 0 } cell ? Recall(cell).ToString("P0", CultureInfo.InvariantCulture) : "—")));
                text.Append(CultureInfo.InvariantCulture, $" | {Recall(length):P0} |\n");
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>A heatmap of recall, lengths down, depths across, red (0) to green (1), each cell labelled.</summary>
    public static string Heatmap(IReadOnlyList<EvalResult> results, string title)
    {
        var lengths = results.Select(r => r.Probe.LengthTokens).Distinct().Order().ToList();
        var depths = results.Select(r => r.Probe.Depth).Distinct().Order().ToList();
        const int cell = 48, left = 90, top = 40;
        var (width, height) = (left + depths.Count * cell + 20, top + lengths.Count * cell + 40);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"20\" font-size=\"13\">{Escape(title)}</text>");
        for (var i = 0; i < lengths.Count; i++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{top + i * cell + cell / 2 + 4}\" text-anchor=\"end\">{lengths[i]:N0}</text>");
            for (var j = 0; j < depths.Count; j++)
            {
                var cellResults = results.Where(r => r.Probe.LengthTokens == lengths[i] && r.Probe.Depth == depths[j]).ToList();
                var recall = cellResults.Count == 0 ? double.NaN : Recall(cellResults);
                var color = double.IsNaN(recall) ? "#e5e7eb" : $"hsl({recall * 120:0},70%,45%)";
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left + j * cell}\" y=\"{top + i * cell}\" width=\"{cell - 2}\" height=\"{cell - 2}\" fill=\"{color}\" data-length=\"{lengths[i]}\" data-depth=\"{depths[j]}\" data-recall=\"{(double.IsNaN(recall) ? "" : recall.ToString("0.###", CultureInfo.InvariantCulture))}\"/>");
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + j * cell + cell / 2 - 1}\" y=\"{top + i * cell + cell / 2 + 4}\" text-anchor=\"middle\" fill=\"#fff\">{(double.IsNaN(recall) ? "" : recall.ToString("P0", CultureInfo.InvariantCulture))}</text>");
            }
        }

        for (var j = 0; j < depths.Count; j++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + j * cell + cell / 2}\" y=\"{top + lengths.Count * cell + 14}\" text-anchor=\"middle\">{depths[j]:P0}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{height - 6}\">needle depth →   (rows: context length in tokens)</text></svg>");
        return svg.ToString();
    }

    private static double Recall(IEnumerable<EvalResult> results)
    {
        var list = results.ToList();
        return list.Count == 0 ? 0 : list.Count(r => r.Hit) / (double)list.Count;
    }

    private static string Escape(string text) => System.Security.SecurityElement.Escape(text) ?? "";
}
