namespace LongContext.Rag.Tests;

/// <summary>Generated filler text and planted facts with paraphrased questions.</summary>
internal static class Haystack
{
    private static readonly string[] Subjects = ["The committee", "Our team", "The city council", "The research group", "A local bakery", "The museum", "The school board", "The orchestra", "The shipping company", "The hospital"];
    private static readonly string[] Verbs = ["reviewed", "discussed", "postponed", "approved", "questioned", "celebrated", "documented", "planned", "funded", "evaluated"];
    private static readonly string[] Objects = ["the annual budget", "a new parking policy", "the spring festival", "the library renovation", "a volunteer programme", "the recycling scheme", "the winter timetable", "a fundraising dinner", "the staff training", "the garden project"];
    private static readonly string[] Tails = ["after a long meeting", "with little debate", "despite some objections", "at the request of residents", "for the third time this year", "in front of a small audience", "without a final decision", "to general relief", "as expected", "before the holidays"];

    public static string Filler(Random random, int paragraphs)
    {
        var text = new System.Text.StringBuilder();
        for (var p = 0; p < paragraphs; p++)
        {
            var sentences = random.Next(3, 7);
            for (var s = 0; s < sentences; s++)
            {
                text.Append(Subjects[random.Next(Subjects.Length)]).Append(' ')
                    .Append(Verbs[random.Next(Verbs.Length)]).Append(' ')
                    .Append(Objects[random.Next(Objects.Length)]).Append(' ')
                    .Append(Tails[random.Next(Tails.Length)]).Append(s == sentences - 1 ? "." : ". ");
            }

            text.Append("\n\n");
        }

        return text.ToString().TrimEnd();
    }

    /// <summary>Facts planted in the haystack and questions that ask for them in other words.</summary>
    public static readonly (string Fact, string Question)[] Facts =
    [
        ("The lighthouse on Marrow Island was automated in 1987 and no keeper has lived there since.", "When did the Marrow Island beacon stop needing a resident keeper?"),
        ("Dr. Elena Voss discovered that the blue-spotted salamander can regrow its spinal cord within six weeks.", "Which amphibian is able to regenerate its spine?"),
        ("The emergency generator in building C runs on biodiesel and can power the servers for 72 hours.", "How long can the backup power supply keep the computers going?"),
        ("Our refund policy allows customers to return unopened items within 45 days of delivery.", "How many days do buyers have to send back sealed products?"),
        ("The Kestrel Bridge was closed for repairs after inspectors found corrosion in its steel cables.", "What rust problem forced the crossing to shut?"),
        ("Mount Harrow's summit trail is only open between June and September because of snow.", "In which months can hikers climb to the top of Mount Harrow?"),
        ("The violinist Amara Chen performed the entire Paganini caprices cycle from memory in Vienna.", "Where did Amara Chen play all of Paganini's caprices without sheet music?"),
        ("Coffee beans from the Sidamo region are washed and dried on raised beds for two weeks.", "How are the coffee beans treated after they are picked?"),
        ("The company's headquarters moved from Leeds to Glasgow to be closer to its largest supplier.", "Why did the firm relocate its main office?"),
        ("A single adult blue whale can eat up to four tonnes of krill in one day.", "How much krill does a grown blue whale consume daily?"),
        ("The ancient city of Quelara was abandoned after its river changed course around 900 AD.", "What made the inhabitants leave the old settlement?"),
        ("Students who enrol before March receive a free laptop and a year of tutoring.", "What do learners get if they sign up early in the year?"),
    ];

    /// <summary>Facts whose key is an identifier that embeddings blur but keywords find exactly.</summary>
    public static readonly (string Fact, string Question)[] Identifiers =
    [
        ("Error code QX-7731 means the cooling loop pressure sensor is disconnected.", "QX-7731"),
        ("Invoice 88-2041-ZT was paid twice and must be refunded to the client.", "88-2041-ZT"),
        ("The part number RZ4481B refers to the left hinge of the cabinet door.", "RZ4481B"),
        ("Ticket FLT-20931 reports the printer on floor three jamming every morning.", "FLT-20931"),
        ("Build 5.12.903-rc2 fixed the crash when exporting reports to spreadsheets.", "5.12.903-rc2"),
        ("Serial KV99-0412 belongs to the spectrometer in the chemistry laboratory.", "KV99-0412"),
    ];
}
