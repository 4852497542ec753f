using System.Globalization;
using LongContext.Routing.Tokens;

namespace LongContext.Evaluation.Probes;

/// <summary>The probe families: gkamradt's needle in a haystack, the landmark-attention passkey, and RULER's niah variants.</summary>
public static class ProbeKinds
{
    public const string Niah = "niah";
    public const string Passkey = "passkey";
    public const string RulerSingle = "ruler_single";
    public const string RulerMultiKey = "ruler_multikey";
    public const string RulerMultiValue = "ruler_multivalue";
    public const string RulerMultiQuery = "ruler_multiquery";

    public static IReadOnlyList<string> All { get; } = [Niah, Passkey, RulerSingle, RulerMultiKey, RulerMultiValue, RulerMultiQuery];
}

/// <summary>
/// One probe: a context of <see cref="LengthTokens"/> tokens with the needle(s) hidden in it, the
/// question, and the answers that must all appear in the reply. <see cref="NeedleDepth"/> is where
/// the (first) needle really starts: the haystack's tokens before it over all the haystack's
/// tokens (0 = first thing in the context, 1 = after all the filler), as needle-in-a-haystack tests count depth.
/// </summary>
public sealed record Probe(string Kind, int LengthTokens, double Depth, double NeedleDepth, int Seed, string Context, string Question, IReadOnlyList<string> Answers)
{
    /// <summary>Case-insensitive substring match of every answer.</summary>
    public bool IsAnsweredBy(string reply) => Answers.All(a => reply.Contains(a, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Builds probes deterministically from a seed: the haystack is cut to the length in tokens (of
/// the given tokenizer) and the needle inserted at the word boundary whose token offset is nearest
/// the asked depth, so it lands there to within one word.
/// </summary>
public sealed class ProbeGenerator(Haystack haystack, ITokenCounter tokens)
{
    private static readonly (string Activity, string Key)[] Activities =
    [
        ("eat a sandwich and sit in Dolores Park on a sunny day", "Dolores Park"),
        ("walk the Embarcadero at sunrise and watch the ferries", "Embarcadero"),
        ("borrow a kayak and paddle around Mission Creek", "Mission Creek"),
        ("climb Bernal Hill with a thermos of cocoa", "Bernal Hill"),
        ("hunt for vinyl records on Valencia Street", "Valencia Street"),
        ("picnic under the cypress trees of Lands End", "Lands End"),
    ];

    private static readonly string[] Cities = ["San Francisco", "Lisbon", "Kyoto", "Reykjavik", "Montreal", "Cape Town", "Valparaiso", "Tallinn"];
    private static readonly string[] Adjectives = ["quiet", "amber", "brisk", "dusty", "gentle", "hollow", "lively", "rapid", "silver", "tidy", "vivid", "wooden"];
    private static readonly string[] Nouns = ["harbor", "lantern", "meadow", "orchard", "pelican", "quarry", "ribbon", "saddle", "thistle", "violin", "walnut", "zephyr"];

    public Probe Generate(string kind, int lengthTokens, double depth, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, 1);
        // A stable seed (string hashes differ between processes).
        var random = new Random(unchecked(seed * 7919 + ProbeKinds.All.ToList().IndexOf(kind)));
        var (needles, question, answers) = Needles(kind, random);

        // The first needle goes to the asked depth, any others to seeded depths.
        var depths = needles.Select((_, i) => i == 0 ? depth : random.NextDouble()).ToArray();
        var needleTokens = needles.Sum(n => tokens.Count(" " + n + " "));
        var hayTokens = lengthTokens - needleTokens;
        if (hayTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(lengthTokens), lengthTokens, $"A {kind} probe needs at least {needleTokens} tokens for its needles.");
        }

        var hay = CutToTokens(haystack.Take(hayTokens * 6 + 64), hayTokens);
        var hayCount = tokens.Count(hay);
        var placements = depths.Select((d, i) => (Index: i, Position: Boundary(hay, (int)Math.Round(d * hayCount)))).OrderByDescending(p => p.Position).ToList();
        var context = hay;
        foreach (var (index, position) in placements)
        {
            context = context[..position] + " " + needles[index] + " " + context[position..];
        }

        // Where the first needle really starts: haystack tokens before it over the haystack's tokens (the NIAH convention).
        var firstStart = context.IndexOf(" " + needles[0] + " ", StringComparison.Ordinal);
        var needleDepth = hayCount == 0 ? 0 : Math.Min(1, tokens.Count(context[..firstStart]) / (double)hayCount);
        return new Probe(kind, lengthTokens, depth, needleDepth, seed, context, question, answers);
    }

    private static (string[] Needles, string Question, string[] Answers) Needles(string kind, Random random)
    {
        string Key() => $"{Adjectives[random.Next(Adjectives.Length)]}-{Nouns[random.Next(Nouns.Length)]}-{random.Next(10, 100)}";
        string Value() => random.Next(1_000_000, 10_000_000).ToString(CultureInfo.InvariantCulture);
        static string Magic(string key, string value) => $"One of the special magic numbers for {key} is: {value}.";
        switch (kind)
        {
            case ProbeKinds.Niah:
                var (activity, answer) = Activities[random.Next(Activities.Length)];
                var city = Cities[random.Next(Cities.Length)];
                return ([$"The best thing to do in {city} is {activity}."], $"What is the best thing to do in {city}?", [answer]);
            case ProbeKinds.Passkey:
                var pass = random.Next(10_000, 100_000).ToString(CultureInfo.InvariantCulture);
                return ([$"The pass key is {pass}. Remember it. {pass} is the pass key."], "What is the pass key? The pass key is", [pass]);
            case ProbeKinds.RulerSingle:
                var (k, v) = (Key(), Value());
                return ([Magic(k, v)], $"What is the special magic number for {k} mentioned in the provided text?", [v]);
            case ProbeKinds.RulerMultiKey:
                var keys = Enumerable.Range(0, 4).Select(_ => (Key: Key(), Value: Value())).ToArray();
                return ([.. keys.Select(p => Magic(p.Key, p.Value))], $"What is the special magic number for {keys[0].Key} mentioned in the provided text?", [keys[0].Value]);
            case ProbeKinds.RulerMultiValue:
                var key = Key();
                var values = Enumerable.Range(0, 4).Select(_ => Value()).ToArray();
                return ([.. values.Select(value => Magic(key, value))], $"What are all the special magic numbers for {key} mentioned in the provided text?", values);
            case ProbeKinds.RulerMultiQuery:
                var pairs = Enumerable.Range(0, 4).Select(_ => (Key: Key(), Value: Value())).ToArray();
                return ([.. pairs.Select(p => Magic(p.Key, p.Value))], $"What are the special magic numbers for {pairs[0].Key} and {pairs[1].Key} mentioned in the provided text?", [pairs[0].Value, pairs[1].Value]);
            default:
                throw new ArgumentException($"Unknown probe kind '{kind}'; use one of {string.Join(", ", ProbeKinds.All)}.", nameof(kind));
        }
    }

    /// <summary>The longest prefix of <paramref name="text"/> ending at a word boundary with at most <paramref name="budget"/> tokens.</summary>
    private string CutToTokens(string text, int budget)
    {
        var (low, high) = (0, text.Length);
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if (tokens.Count(text[..SnapBack(text, middle)]) <= budget)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return text[..SnapBack(text, low)];
    }

    /// <summary>The word boundary (a position just after a space) whose prefix has the token count nearest <paramref name="target"/>.</summary>
    private int Boundary(string text, int target)
    {
        var (low, high) = (0, text.Length);
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (tokens.Count(text[..SnapBack(text, middle)]) < target)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        var after = SnapForward(text, low);
        var before = SnapBack(text, low);
        return Math.Abs(tokens.Count(text[..before]) - target) <= Math.Abs(tokens.Count(text[..after]) - target) ? before : after;
    }

    private static int SnapBack(string text, int position)
    {
        while (position > 0 && position < text.Length && !char.IsWhiteSpace(text[position - 1]))
        {
            position--;
        }

        return position;
    }

    private static int SnapForward(string text, int position)
    {
        while (position < text.Length && position > 0 && !char.IsWhiteSpace(text[position - 1]))
        {
            position++;
        }

        return position;
    }
}
