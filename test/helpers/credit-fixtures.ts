import { randomUUID } from 'node:crypto';

/*
 * Valid credits.create input for the API tests, each with a serial number of
 * its own unless one is given.
 */

/** A serial number no other test uses, so every test owns its credits. */
export const uniqueSerial = (label: string) => `${label}-${randomUUID()}`;

export const validCredit = (serialNumber = uniqueSerial('VCS')) => ({
  projectName: 'Kasigau Corridor REDD+',
  registry: 'Verra',
  vintage: 2021,
  quantity: '100',
  serialNumber,
});
