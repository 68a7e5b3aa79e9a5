// Dates in the user's chosen zone, always shown with the zone.
const STORAGE_KEY = "flowyard.zone";

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function storedZone(): string {
  return localStorage.getItem(STORAGE_KEY) || browserZone();
}

export function storeZone(zone: string): void {
  localStorage.setItem(STORAGE_KEY, zone);
}

export function formatInstant(epochMs: number, zone: string, locale: string): string {
  const text = new Intl.DateTimeFormat(locale, {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  }).format(new Date(epochMs));
  return `${text} ${zone}`;
}

export const COMMON_ZONES = [
  "UTC",
  "Asia/Shanghai",
  "Asia/Singapore",
  "Asia/Tokyo",
  "Europe/Berlin",
  "Europe/London",
  "America/New_York",
  "America/Los_Angeles",
];
