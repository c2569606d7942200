# An independent model of memtrack's sampler (src/core/sampler.c) and of the estimates a
# sample-mode capture holds, for the allocation pattern of tests/unit/test_sampler.c
# (test_estimates_fixed_seed). Prints: sampled allocations, then for sites A and B the estimated
# allocations, allocated bytes and live bytes.
import math
M=(1<<64)-1
def splitmix(x):
    x=(x+0x9e3779b97f4a7c15)&M
    z=x
    z=((z^(z>>30))*0xbf58476d1ce4e5b9)&M
    z=((z^(z>>27))*0x94d049bb133111eb)&M
    return z^(z>>31)
class S:
    def __init__(s,seed,stream,mean):
        x=seed^((stream*0xd1342543de82ef95)&M)
        r=splitmix(x); s.rng=r or 0x2545f4914f6cdd1d; s.mean=mean; s.left=s.next()
    def u64(s):
        x=s.rng; x^=x>>12; x^=(x<<25)&M; x^=x>>27; s.rng=x; return (x*0x2545f4914f6cdd1d)&M
    def next(s):
        u=((s.u64()>>11)+1)*(1.0/9007199254740992.0)
        v=math.ceil(-math.log(u)*s.mean)
        return max(1,int(v))
    def take(s,size):
        if size < s.left: s.left-=size; return False
        s.left=s.next(); return True
mean=4096
fx=lambda sz: round(65536/(-math.expm1(-sz/mean)))
by=lambda sz: round(sz/(-math.expm1(-sz/mean)))
s=S(42,0,mean)
A=[0,0,0];B=[0,0,0];n=0
sa=[];sb=[]
for r in range(100):
    for i in range(1000):
        if s.take(64): n+=1; A[0]+=fx(64); A[1]+=by(64); sa.append(r*1000+i)
    for i in range(100):
        if s.take(4000): n+=1; B[0]+=fx(4000); B[1]+=by(4000); sb.append(r*100+i)
    if s.take(1<<20): n+=1
A[2]=sum(by(64) for i in sa if i%2==1)
B[2]=sum(by(4000) for i in sb if i%2==1)
print(n, (A[0]+32768)>>16, A[1], A[2], (B[0]+32768)>>16, B[1], B[2])
