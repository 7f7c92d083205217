namespace SagaAspire.Inventory.Apis;

/// <summary>A product and where its units are: free to reserve, held by running sagas, sold.</summary>
public sealed record ProductView(string Sku, string Name, int Available, int Reserved, int Sold);
