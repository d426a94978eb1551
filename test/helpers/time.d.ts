export declare const TEST_TIME_SCALE: number;
export declare function testTime(ms: number): number;
