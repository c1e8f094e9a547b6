export declare const REPO: string;
export declare function bundledEntry(name: string, source: string, options?: { splitting?: boolean; external?: string[] }): Promise<string>;
