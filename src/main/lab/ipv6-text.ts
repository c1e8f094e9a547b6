// IPv6 addresses as text, the one way RFC 5952 allows: lower-case hex without leading zeros, and the
// longest run of two or more zero groups (the first on a tie) written '::'. Shared by the parameters of
// a lab (params.ts) and the address comparisons of checks (check/ip.ts).

export function ipv6Text(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
