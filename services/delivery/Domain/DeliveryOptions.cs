namespace SagaAspire.Delivery.Domain;

/// <summary>Settings of the delivery service, from the <c>Delivery</c> section.</summary>
public sealed class DeliveryOptions
{
    public const string Section = "Delivery";

    /// <summary>Share of otherwise bookable deliveries refused at random, from 0 (none) to 1 (all).</summary>
    public double FailureRate { get; set; }

    /// <summary>How many days ahead, from tomorrow, a delivery may be booked; past that there is no free slot.</summary>
    public int BookingDays { get; set; } = 14;

    /// <summary>
    /// The countries served and how many deliveries each takes per day, written at start-up. Capacity
    /// is a setting: a changed number applies to days not yet booked; days with bookings keep theirs.
    /// </summary>
    public List<DeliveryArea> Areas { get; set; } = [];

    internal IEnumerable<string> Problems()
    {
        if (FailureRate is not (>= 0 and <= 1)) yield return $"Delivery:FailureRate must be between 0 and 1, not {FailureRate}";
        if (BookingDays is < 1 or > 366) yield return $"Delivery:BookingDays must be from 1 to 366, not {BookingDays}";
        for (var i = 0; i < Areas.Count; i++)
        {
            if (!DeliveryArea.IsCountryCode(Areas[i].Country)) yield return $"Delivery:Areas:{i}:Country must be a 2-letter uppercase ISO 3166 code, not '{Areas[i].Country}'";
            if (Areas[i].SlotsPerDay < 0) yield return $"Delivery:Areas:{i}:SlotsPerDay must be at least 0, not {Areas[i].SlotsPerDay}";
        }
        foreach (var repeated in Areas.GroupBy(a => a.Country, StringComparer.Ordinal).Where(g => g.Count() > 1))
            yield return $"Delivery:Areas lists {repeated.Key} {repeated.Count()} times";
    }
}

/// <summary>A country the service delivers to and its deliveries per day.</summary>
public sealed class DeliveryArea
{
    public string Country { get; set; } = "";
    public string? Name { get; set; }
    public int SlotsPerDay { get; set; }

    internal static bool IsCountryCode(string? code) => code is { Length: 2 } && code.All(char.IsAsciiLetterUpper);
}
