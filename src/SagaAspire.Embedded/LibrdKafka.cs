using System.Reflection;
using System.Runtime.InteropServices;

namespace SagaAspire.Embedded;

/// <summary>
/// The few librdkafka entry points the mock cluster needs, called in the very librdkafka that
/// Confluent.Kafka loads (from the <c>librdkafka.redist</c> package's runtimes folder).
/// </summary>
internal static partial class LibrdKafka
{
    private const string Library = "librdkafka";

    static LibrdKafka()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibrdKafka).Assembly, Resolve);
    }

    /// <summary>
    /// Loads the library (installing the resolver first). dlopen of the file Confluent.Kafka also
    /// loads yields the same instance, so mock cluster and clients share one librdkafka.
    /// </summary>
    public static void EnsureLoaded() => NativeLibrary.Load(NativePath());

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? NativeLibrary.Load(NativePath()) : IntPtr.Zero;

    private static string NativePath()
    {
        var baseDirectory = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(baseDirectory, "runtimes", "linux-x64", "native", "librdkafka.so"),
            Path.Combine(baseDirectory, "librdkafka.so"),
        ];
        return candidates.FirstOrDefault(File.Exists) ?? throw new EmbeddedInfrastructureException(
            $"librdkafka.so was not found next to the application ({string.Join(", ", candidates)}). " +
            "It comes from the librdkafka.redist package; run ./build.sh once, which provides it where the NuGet sources do not.");
    }

    public const int ProducerType = 0;

    [LibraryImport(Library)]
    public static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Library)]
    public static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(Library)]
    public static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Library)]
    public static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Library)]
    public static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Library)]
    public static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [LibraryImport(Library)]
    public static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Library)]
    public static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);

    [LibraryImport(Library)]
    public static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);

    [LibraryImport(Library)]
    public static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr cluster, int delayMs);

    [LibraryImport(Library)]
    public static partial IntPtr rd_kafka_err2str(int error);

    public static string ErrorText(int error) => Marshal.PtrToStringUTF8(rd_kafka_err2str(error)) ?? $"error {error}";
}
