using System.Globalization;

namespace SagaAspire.Load;

/// <summary>What an order is meant to end as, and so how it is built.</summary>
public enum OrderKind
{
    /// <summary>Stock is there, the payment goes through and a delivery is booked: the order is Approved.</summary>
    Success,

    /// <summary>A customer id the payment service always declines: stock is reserved, then released; Rejected.</summary>
    Declined,

    /// <summary>A product with no stock at all: the reservation is refused; Rejected.</summary>
    OutOfStock,

    /// <summary>
    /// An address in a country the delivery service does not serve: stock reserved, payment charged,
    /// the delivery refused ("we do not deliver to AQ"), then the payment refunded and the stock
    /// released; Rejected with the delivery's reason.
    /// </summary>
    Undeliverable,

    /// <summary>
    /// An address in an area served with no slot on any day: as <see cref="Undeliverable"/>, refused
    /// for want of a free slot ("no delivery slot free in QZ from ... to ...").
    /// </summary>
    NoSlot,
}

/// <summary>Faults injected while the load runs.</summary>
[Flags]
public enum ChaosKinds
{
    None = 0,

    /// <summary>kill -9 of a random service process, restarted a moment later.</summary>
    Kill = 1,

    /// <summary>The embedded broker refuses every connection for a while, then comes back.</summary>
    Broker = 2,

    /// <summary>The PostgreSQL server stops (fast shutdown) and starts again on the same data.</summary>
    Postgres = 4,

    /// <summary>Every message on the saga's topics is delivered a second time.</summary>
    Duplicate = 8,

    /// <summary>Malformed messages on the saga's topics, which must all end in dead-letter topics.</summary>
    Poison = 16,

    /// <summary>
    /// A service loses every message in flight to and from it: killed, its consumer group moved
    /// past everything it had not processed, the rows in its outbox deleted, restarted.
    /// </summary>
    Loss = 32,
}

/// <summary>The share of each <see cref="OrderKind"/> in the load, as weights (75/12/5/5/3 by default).</summary>
public sealed record OutcomeMix(int Success, int Declined, int OutOfStock, int Undeliverable = 0, int NoSlot = 0)
{
    public static readonly OutcomeMix Default = new(75, 12, 5, 5, 3);

    /// <summary>The kinds in the order of <see cref="KindOf"/>'s windows, with their weights.</summary>
    public IEnumerable<(OrderKind Kind, int Weight)> Weights =>
        [(OrderKind.Success, Success), (OrderKind.Declined, Declined), (OrderKind.OutOfStock, OutOfStock), (OrderKind.Undeliverable, Undeliverable), (OrderKind.NoSlot, NoSlot)];

    public int Total => Success + Declined + OutOfStock + Undeliverable + NoSlot;

    /// <summary>
    /// The kind of the order with this index. The kinds are spread evenly over every window of
    /// <see cref="Total"/> orders (a stride coprime to the total walks a permutation of it), so a
    /// short run has the mix too, and two runs with the same mix send the same kinds.
    /// </summary>
    public OrderKind KindOf(long index)
    {
        var stride = Stride(Total);
        var position = (int)(index * stride % Total);
        foreach (var (kind, weight) in Weights)
        {
            if (position < weight) return kind;
            position -= weight;
        }
        throw new InvalidOperationException("unreachable: the position lies within the total");
    }

    /// <summary>Parses <c>success=75,declined=12,outofstock=5,undeliverable=5,noslot=3</c>; a kind not named weighs 0.</summary>
    public static OutcomeMix Parse(string text)
    {
        int success = 0, declined = 0, outOfStock = 0, undeliverable = 0, noSlot = 0;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var weight))
                throw new FormatException($"'{part}' is not kind=weight (for example success=80).");
            switch (pair[0].ToLowerInvariant())
            {
                case "success": success = weight; break;
                case "declined": declined = weight; break;
                case "outofstock" or "out-of-stock": outOfStock = weight; break;
                case "undeliverable": undeliverable = weight; break;
                case "noslot" or "no-slot": noSlot = weight; break;
                default: throw new FormatException($"'{pair[0]}' is not an outcome; use success, declined, outofstock, undeliverable or noslot.");
            }
        }
        if (success + declined + outOfStock + undeliverable + noSlot == 0) throw new FormatException("The mix needs at least one positive weight.");
        return new OutcomeMix(success, declined, outOfStock, undeliverable, noSlot);
    }

    public override string ToString() => $"success={Success},declined={Declined},outofstock={OutOfStock},undeliverable={Undeliverable},noslot={NoSlot}";

    private static int Stride(int total)
    {
        for (var stride = 37; ; stride++)
            if (GreatestCommonDivisor(stride, total) == 1) return stride;
    }

    private static int GreatestCommonDivisor(int a, int b) => b == 0 ? a : GreatestCommonDivisor(b, a % b);
}

/// <summary>One load run: how orders are sent, how many, with which faults.</summary>
public sealed record LoadSettings
{
    /// <summary>Open loop: orders per second at fixed intended times. Null for a closed loop.</summary>
    public double? Rate { get; init; }

    /// <summary>Closed loop: this many workers, each placing an order and waiting for its final state before the next.</summary>
    public int Workers { get; init; } = 64;

    /// <summary>Orders to send (after the warm-up); with <see cref="Duration"/>, whichever ends first.</summary>
    public long? Count { get; init; }

    public TimeSpan? Duration { get; init; }

    /// <summary>Load sent first at the same settings and left out of the figures (JIT, pools, first rebalances).</summary>
    public TimeSpan Warmup { get; init; }

    public OutcomeMix Mix { get; init; } = OutcomeMix.Default;

    /// <summary>
    /// Products the orders spread over (1 to 64). Every reservation locks its product's row until
    /// it commits, so one product is one hot row that serializes the inventory service.
    /// </summary>
    public int Skus { get; init; } = SystemUnderTest.StockedSkuCount;

    public ChaosKinds Chaos { get; init; }

    /// <summary>Time between two faults of the kinds kill, broker, postgres and loss (they take turns).</summary>
    public TimeSpan ChaosInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>At most this many faults of the kinds kill, broker, postgres and loss; null for no limit.</summary>
    public int? MaxFaults { get; init; }

    /// <summary>How long a broker or PostgreSQL outage, or a killed service's absence, lasts.</summary>
    public TimeSpan OutageLength { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Malformed messages injected per second with <see cref="ChaosKinds.Poison"/>.</summary>
    public double PoisonPerSecond { get; init; } = 2;

    /// <summary>After the load (and every fault) ends: how long the system may take to finish every saga.</summary>
    public TimeSpan RecoveryTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>How long to run pgbench -N for the ceiling reference; null skips it.</summary>
    public TimeSpan? Ceiling { get; init; } = TimeSpan.FromSeconds(10);

    public int CeilingClients { get; init; } = 8;

    /// <summary>Prefix of every order id of this run, so a shared system's other orders are left out.</summary>
    public string RunId { get; init; } = "load-" + DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture);

    /// <summary>How long one order's POST is retried (service down, database down) before it counts as not accepted.</summary>
    public TimeSpan SendGiveUp { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Seed of the random choices (which service to kill); fixed so runs can be repeated.</summary>
    public int Seed { get; init; } = 7;

    public string Describe()
    {
        var mode = Rate is { } rate ? $"open loop at {rate.ToString("0.##", CultureInfo.InvariantCulture)} sagas/s" : $"closed loop with {Workers} workers";
        var amount = (Count, Duration) switch
        {
            ({ } c, { } d) => $"{c} orders or {d.TotalSeconds:0} s",
            ({ } c, null) => $"{c} orders",
            (null, { } d) => $"{d.TotalSeconds:0} s",
            _ => "1000 orders",
        };
        return $"{mode}, {amount}, warm-up {Warmup.TotalSeconds:0} s, mix {Mix} over {Skus} products, chaos {(Chaos == ChaosKinds.None ? "none" : Chaos.ToString().ToLowerInvariant())}";
    }

    public static TimeSpan ParseDuration(string text)
    {
        var value = text.Trim();
        double Number(string digits) => double.Parse(digits, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (value.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(Number(value[..^2]));
        if (value.EndsWith('s')) return TimeSpan.FromSeconds(Number(value[..^1]));
        if (value.EndsWith('m')) return TimeSpan.FromMinutes(Number(value[..^1]));
        return TimeSpan.FromSeconds(Number(value));
    }

    public static ChaosKinds ParseChaos(string text)
    {
        var kinds = ChaosKinds.None;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            kinds |= part.ToLowerInvariant() switch
            {
                "kill" => ChaosKinds.Kill,
                "broker" => ChaosKinds.Broker,
                "postgres" => ChaosKinds.Postgres,
                "duplicate" => ChaosKinds.Duplicate,
                "poison" => ChaosKinds.Poison,
                "loss" => ChaosKinds.Loss,
                "none" => ChaosKinds.None,
                _ => throw new FormatException($"'{part}' is not a chaos kind; use kill, broker, postgres, loss, duplicate, poison."),
            };
        }
        return kinds;
    }
}
