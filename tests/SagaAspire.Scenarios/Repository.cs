namespace SagaAspire.Scenarios;

/// <summary>The repository the tests run from (the folder holding SagaAspire.sln).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
                if (File.Exists(Path.Combine(directory.FullName, "SagaAspire.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException("Cannot find the SagaAspire repository (SagaAspire.sln) above the test's folder.");
    }
}
