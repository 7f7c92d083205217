// A tracer provider listens to every activity source in the process, not only its own host's:
// while one test's service exports spans, a request another test makes at the same moment would
// be recorded and exported with them (a second "GET /boom" in the telemetry test's receiver).
// So the tests of this assembly, each starting a service of its own, run one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
