/** What a CRM said about its request quota in a response's headers (decision 0051). */
export interface ApiUsage {
  /** The short rolling window (HubSpot's ten seconds). */
  readonly window?: { readonly remaining: number; readonly max: number };
  /** The daily allocation (HubSpot's daily limit, Salesforce's api-usage). */
  readonly daily?: { readonly used: number; readonly max: number };
}
