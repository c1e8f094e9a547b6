export declare const REPO: string;
export declare function bundledEntry(name: string, source: string, options?: { external?: string[] }): Promise<string>;
export declare function bundleCommand(name: string, source: string, args: string[]): Promise<string[]>;
export declare function requireWithCodeCache(entry: string, use: string): Record<string, unknown>;
