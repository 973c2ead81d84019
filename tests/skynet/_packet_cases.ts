export const cases: import("./_fixtures.ts").Case[] = [];
