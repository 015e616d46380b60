// Shapes of the broker's JSON (protojson of proto/loco/v1): lowerCamelCase fields, enums as strings,
// 64-bit integers as strings. Only the fields the UI reads are listed; every field may be absent.

export type InstanceState =
  | "INSTANCE_STATE_UNSPECIFIED"
  | "INSTANCE_STATE_EXPECTED"
  | "INSTANCE_STATE_ATTACHED"
  | "INSTANCE_STATE_HEALTHY"
  | "INSTANCE_STATE_DEGRADED"
  | "INSTANCE_STATE_UNHEALTHY"
  | "INSTANCE_STATE_GONE";

export interface Viewer {
  id?: string;
  name?: string;
}

export interface ScreenMode {
  width?: number;
  height?: number;
  guestBpp?: number;
}

export interface HealthReport {
  measuredAt?: string;
  verdict?: string;
  reasons?: string[];
  vncConnected?: boolean;
  vncFps?: number;
  encodedFps?: number;
  secondsSinceChange?: number;
  screen?: string;
  screenMode?: ScreenMode;
  audioRmsDbfs?: number;
  encodeMsMean?: number;
  encodeMsP95?: number;
  videoTargetBps?: string | number;
  sentBps?: string | number;
  viewers?: number;
  rttMs?: number;
  lossFraction?: number;
  qemu?: string;
  qemuRestarts?: number;
  inputRejected?: string | number;
}

export interface AgentHello {
  instanceId?: string;
  agentVersion?: string;
  profile?: string;
  videoCodecs?: string[];
  audioCodecs?: string[];
  inputProtocolVersion?: number;
}

export interface Instance {
  id: string;
  ordinal?: number;
  state?: InstanceState;
  stateSince?: string;
  reason?: string;
  agent?: AgentHello | null;
  health?: HealthReport | null;
  controller?: Viewer | null;
}

export type EventType =
  | "EVENT_TYPE_UNSPECIFIED"
  | "EVENT_TYPE_SNAPSHOT"
  | "EVENT_TYPE_ADDED"
  | "EVENT_TYPE_UPDATED"
  | "EVENT_TYPE_REMOVED";

/** One `instance` event of /api/events (WatchInstancesResponse). */
export interface InstanceEvent {
  sequence?: string;
  type?: EventType | string;
  instance?: Instance;
}

/** The badge a tile shows for an instance's registry state. */
export type Badge = "healthy" | "degraded" | "unhealthy" | "connecting";

export function badgeOf(inst: Instance): Badge {
  switch (inst.state) {
    case "INSTANCE_STATE_HEALTHY":
      return "healthy";
    case "INSTANCE_STATE_DEGRADED":
      return "degraded";
    case "INSTANCE_STATE_UNHEALTHY":
    case "INSTANCE_STATE_GONE":
      return "unhealthy";
    default:
      return "connecting";
  }
}
