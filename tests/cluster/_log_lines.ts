/** A logger for tests that keeps every line it is given, prefixed with its level. */
export function counting(): {
  lines: string[];
  logger: { error(message: string): void; warn(message: string): void };
} {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      error: (message: string) => lines.push(`error ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
    },
  };
}
