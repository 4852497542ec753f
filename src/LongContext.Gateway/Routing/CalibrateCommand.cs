using System.Globalization;
using System.Text.Json;
using LongContext.Gateway.Hosting;
using LongContext.Routing.ContextRot;

namespace LongContext.Gateway.Routing;

/// <summary>
/// <c>calibrate</c>: fits a context-rot curve to needle-in-a-haystack results and writes it as a
/// curve file. Reads LLMTest_NeedleInAHaystack result files (<c>.json</c>: one object or a list,
/// fields context_length, depth_percent, score 1-10; a hit is a score of 7 or more) and JSONL
/// lines <c>{"length":…, "depth":0…1, "hit":true|false}</c> — the <c>eval</c> command's results.jsonl
/// among them — from files or folders. <c>--model</c> and <c>--route</c> keep only the results of
/// that model or route (a line without the field is kept); a probe whose request failed (a
/// non-null <c>error</c>) measured nothing and is skipped.
/// </summary>
internal static class CalibrateCommand
{
    public const string Usage = "usage: calibrate --name NAME --out FILE [--source TEXT] [--model MODEL] [--route ROUTE] RESULTS...\n"
        + "  RESULTS: LLMTest_NeedleInAHaystack .json result files and/or .jsonl files of {\"length\",\"depth\",\"hit\"}, or folders of them.";

    /// <summary>Scores of 7 and above (on 1-10) count as the needle found, as in the NIAH project's own heatmaps.</summary>
    public const int HitScore = 7;

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        string? name = null, outPath = null, source = null, model = null, route = null;
        var inputs = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--name" when i + 1 < args.Count: name = args[++i]; break;
                case "--out" when i + 1 < args.Count: outPath = args[++i]; break;
                case "--source" when i + 1 < args.Count: source = args[++i]; break;
                case "--model" when i + 1 < args.Count: model = args[++i]; break;
                case "--route" when i + 1 < args.Count: route = args[++i]; break;
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    error.WriteLine($"calibrate: unknown or incomplete option {option}\n{Usage}");
                    return 2;
                default: inputs.Add(args[i]); break;
            }
        }

        if (name is null || outPath is null || inputs.Count == 0)
        {
            error.WriteLine(Usage);
            return 2;
        }

        try
        {
            var files = Expand(inputs);
            var results = files.SelectMany(file => Read(file, model, route)).ToList();
            if (results.Count == 0)
            {
                throw new GatewayStartupException("no needle results found" + (model is null ? "" : $" for model '{model}'") + (route is null ? "" : $" on route '{route}'") + " in " + string.Join(", ", inputs));
            }

            var fit = CurveCalibration.Fit(results, name, source ?? $"calibrated from {results.Count} needle-in-a-haystack results in {string.Join(", ", inputs)} on {DateTime.UtcNow:yyyy-MM-dd}");
            var file = new ContextRotFile
            {
                Name = Path.GetFileNameWithoutExtension(outPath),
                Source = fit.Curve.Source,
                MiddleDip = fit.Curve.MiddleDip,
                MiddleDipSource = "fitted with the recall points (weighted least squares over every length x depth cell)",
                Points = [.. fit.Curve.Points.Select(p => new ContextRotFilePoint(p.Tokens, p.Recall))],
                Fit = new ContextRotFitReport(fit.Samples, fit.Cells, fit.HeldOutCells, Round(fit.HeldOutMeanAbsoluteError), Round(fit.HeldOutRootMeanSquareError)),
            };
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            File.WriteAllText(outPath, ContextRotFiles.Serialize(file) + "\n");

            output.WriteLine($"{results.Count} results from {files.Count} file(s): {fit.Cells} length x depth cells, {fit.Curve.Points.Count} lengths, middle dip {fit.Curve.MiddleDip:0.###}");
            foreach (var point in fit.Curve.Points)
            {
                output.WriteLine($"  {point.Tokens,10:N0} tokens  recall {point.Recall:P1}");
            }

            output.WriteLine(fit.HeldOutMeanAbsoluteError is { } mae
                ? $"held-out error on {fit.HeldOutCells} cells (every 5th, not used for that fit): MAE {mae:0.000}, RMSE {fit.HeldOutRootMeanSquareError:0.000}"
                : "too few cells to hold any out: no held-out error");
            output.WriteLine($"wrote {outPath}");
            return 0;
        }
        catch (Exception e) when (e is GatewayStartupException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine("calibrate: " + e.Message);
            return 1;
        }
    }

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 4) : null;

    private static List<string> Expand(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                files.AddRange(Directory.EnumerateFiles(input, "*.*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal));
            }
            else if (File.Exists(input))
            {
                files.Add(input);
            }
            else
            {
                throw new GatewayStartupException($"{input} is neither a file nor a folder");
            }
        }

        return files;
    }

    private static List<NeedleResult> Read(string file, string? model, string? route) =>
        file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? ReadJsonLines(file, model, route) : ReadNiahJson(file, model);

    /// <summary>Whether a result's optional string field is absent or names the wanted value.</summary>
    private static bool Matches(JsonElement item, string field, string? wanted) =>
        wanted is null || !item.TryGetProperty(field, out var value) || value.ValueKind != JsonValueKind.String || value.GetString() == wanted;

    private static List<NeedleResult> ReadNiahJson(string file, string? model)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(file));
        }
        catch (JsonException e)
        {
            throw new GatewayStartupException($"{file} is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            var items = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray().ToList() : [root];
            var results = new List<NeedleResult>();
            for (var i = 0; i < items.Count; i++)
            {
                var where = root.ValueKind == JsonValueKind.Array ? $"{file}[{i}]" : file;
                var item = items[i];
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new GatewayStartupException($"{where} is not an object");
                }

                if (!Matches(item, "model", model))
                {
                    continue;
                }

                var length = Number(item, "context_length", where);
                var depth = Number(item, "depth_percent", where);
                var score = Number(item, "score", where);
                if (length < 1 || depth is < 0 or > 100 || score is < 0 or > 10)
                {
                    throw new GatewayStartupException($"{where}: context_length must be positive, depth_percent in 0-100 and score in 1-10 (got {length}, {depth}, {score})");
                }

                results.Add(new NeedleResult((long)length, depth / 100, score >= HitScore));
            }

            return results;
        }
    }

    private static List<NeedleResult> ReadJsonLines(string file, string? model, string? route)
    {
        var results = new List<NeedleResult>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var where = $"{file}:{lineNumber}";
            try
            {
                using var document = JsonDocument.Parse(line);
                var item = document.RootElement;
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new GatewayStartupException($"{where} is not a JSON object");
                }

                if (!Matches(item, "model", model) || !Matches(item, "route", route)
                    || (item.TryGetProperty("error", out var failed) && failed.ValueKind != JsonValueKind.Null))
                {
                    continue;
                }

                var length = Number(item, "length", where);
                var depth = Number(item, "depth", where);
                if (!item.TryGetProperty("hit", out var hit) || hit.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw new GatewayStartupException($"{where}: 'hit' must be true or false");
                }

                if (length < 1 || depth is < 0 or > 1)
                {
                    throw new GatewayStartupException($"{where}: length must be positive and depth in 0-1 (got {length}, {depth})");
                }

                results.Add(new NeedleResult((long)length, depth, hit.GetBoolean()));
            }
            catch (JsonException e)
            {
                throw new GatewayStartupException($"{where} is not a JSON object: {e.Message}");
            }
        }

        return results;
    }

    private static double Number(JsonElement item, string name, string where)
    {
        if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty(name, out var value))
        {
            if (value.ValueKind == JsonValueKind.Number)
            {
                return value.GetDouble();
            }

            // Some NIAH runs write numbers as strings.
            if (value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
            {
                return parsed;
            }
        }

        throw new GatewayStartupException($"{where}: '{name}' is missing or not a number");
    }
}
