// Dispatch grids larger than maxComputeWorkgroupsPerDimension (65535 everywhere) wrap into y; the shader
// recovers the linear group as wg.y * groups_x + wg.x and bounds-checks it.
export const MAX_GROUPS_PER_DIM = 65535;

export function grid2d(groups: number, groupsX: number): [number, number] {
  if (groups <= groupsX) return [groups, 1];
  return [groupsX, Math.ceil(groups / groupsX)];
}
