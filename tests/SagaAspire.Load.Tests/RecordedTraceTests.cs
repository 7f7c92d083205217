namespace SagaAspire.Load.Tests;

/// <summary>The telemetry check looks for whole traces only among sagas their services recorded.</summary>
public sealed class RecordedTraceTests
{
    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz", false)]
    [InlineData("|0af7651916cd43dd.1.", false)]
    public void a_trace_is_recorded_when_its_sampled_flag_is_set(string traceParent, bool recorded) =>
        TelemetryReport.IsRecorded(traceParent).ShouldBe(recorded);
}
